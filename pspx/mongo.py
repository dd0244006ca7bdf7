"""The async MongoDB client (PyMongo's native asyncio API)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from pspx.settings import Settings

Document = dict[str, Any]
DUPLICATE_KEY = 11000
T = TypeVar("T")


def client(settings: Settings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000)


def database(
    mongo: AsyncMongoClient[Document], settings: Settings, service: str
) -> AsyncDatabase[Document]:
    return mongo[settings.database(service)]


async def in_transaction(
    mongo: AsyncMongoClient[Document], work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """Run ``work`` in one multi-document transaction: all of it commits or none."""
    async with mongo.start_session() as session:
        return await session.with_transaction(work)


async def apply_newer(
    collection: AsyncCollection[Document], changes: Sequence[tuple[str, int, Document]]
) -> int:
    """The consumer-side version guard, for many documents at once: each ``(id, version,
    fields)`` is written only over an older stored copy (or where there is none), so a
    duplicate or an older event changes nothing. Returns how many were written.

    One unordered write per round: a batch's first change of each document, then its
    second, and so on in version order, as if they came one by one (an event may carry
    only some fields, as a removal does).
    """
    by_doc: dict[str, list[tuple[int, Document]]] = defaultdict(list)
    for doc_id, version, fields in changes:
        by_doc[doc_id].append((version, fields))
    rounds: list[list[UpdateOne]] = []
    for doc_id, versions in by_doc.items():
        for i, (version, fields) in enumerate(sorted(versions, key=lambda v: v[0])):
            if i == len(rounds):
                rounds.append([])
            rounds[i].append(
                UpdateOne(
                    {"_id": doc_id, "version": {"$lt": version}},
                    {"$set": {**fields, "version": version}},
                    upsert=True,
                )
            )
    return sum([await _write_newer(collection, ops) for ops in rounds])


async def _write_newer(collection: AsyncCollection[Document], ops: list[UpdateOne]) -> int:
    try:
        result = await collection.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        # A duplicate key is an upsert that met a newer stored copy: nothing to write there.
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
        return int(exc.details.get("nModified", 0)) + int(exc.details.get("nUpserted", 0))
    return result.modified_count + result.upserted_count
