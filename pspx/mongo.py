"""The async MongoDB client (PyMongo's native asyncio API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pspx.settings import Settings

Document = dict[str, Any]
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


async def apply_if_newer(
    collection: AsyncCollection[Document],
    doc_id: str,
    version: int,
    fields: Document,
    session: AsyncClientSession | None = None,
) -> bool:
    """Write ``fields`` only if the stored copy is older than ``version``.

    The consumer-side version guard: a duplicate or an older event changes
    nothing. Returns whether the write happened.
    """
    try:
        result = await collection.update_one(
            {"_id": doc_id, "version": {"$lt": version}},
            {"$set": {**fields, "version": version}},
            upsert=True,
            session=session,
        )
    except DuplicateKeyError:
        return False  # the stored copy is as new or newer: the upsert collided with it
    return result.modified_count > 0 or result.upserted_id is not None
