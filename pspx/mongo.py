"""The async MongoDB client (PyMongo's native asyncio API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

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
