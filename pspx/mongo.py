"""The async MongoDB client (PyMongo's native asyncio API)."""

from __future__ import annotations

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
    duplicate or an older event changes nothing. Returns how many documents were written.

    A batch's changes of one document are folded in version order first (an event may
    carry only some fields, as a removal does), then each document is written once: new
    ones in one insert, the rest in one bulk update guarded by their version.
    """
    ids = list(dict.fromkeys(doc_id for doc_id, _, _ in changes))
    stored = {
        d["_id"]: d.get("version", 0)
        async for d in collection.find({"_id": {"$in": ids}}, {"version": 1})
    }
    folded: dict[str, Document] = {}
    for doc_id, version, fields in sorted(changes, key=lambda c: c[1]):
        if version > stored.get(doc_id, 0):
            folded[doc_id] = {**folded.get(doc_id, {}), **fields, "version": version}
    new = [{"_id": doc_id, **doc} for doc_id, doc in folded.items() if doc_id not in stored]
    updates = [
        UpdateOne({"_id": doc_id, "version": {"$lt": doc["version"]}}, {"$set": doc}, upsert=True)
        for doc_id, doc in folded.items()
        if doc_id in stored
    ]
    written = 0
    if new:
        try:
            written += len((await collection.insert_many(new, ordered=False)).inserted_ids)
        except BulkWriteError as exc:  # written meanwhile by another: the guarded update decides
            _only_duplicates(exc)
            written += int(exc.details.get("nInserted", 0))
            taken = {e["op"]["_id"] for e in exc.details["writeErrors"]}
            updates += [
                UpdateOne({"_id": d["_id"], "version": {"$lt": d["version"]}}, {"$set": d})
                for d in new
                if d["_id"] in taken
            ]
    if updates:
        try:
            result = await collection.bulk_write(updates, ordered=False)
            written += result.modified_count + result.upserted_count
        except BulkWriteError as exc:  # an upsert that met a newer copy: nothing to write there
            _only_duplicates(exc)
            written += int(exc.details.get("nModified", 0)) + int(exc.details.get("nUpserted", 0))
    return written


def _only_duplicates(exc: BulkWriteError) -> None:
    if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
        raise exc
