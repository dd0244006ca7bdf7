"""Exchange persistence: aggregates and their outbox records in one transaction.

Also the organisation replica, written only by the registry's events under a
version guard, and the keyset queries behind the practice listing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from pspx import mongo
from pspx.errors import AlreadyExists, DomainError, StaleVersion
from pspx.events import Event
from pspx.http import decode_cursor, encode_cursor
from pspx.runtime import Runtime
from services.exchange.domain import Aggregate, Comment, Organisation, Practice

A = TypeVar("A", bound=Aggregate)

COLLECTIONS: dict[type[Aggregate], str] = {Practice: "practices", Comment: "comments"}
ORGANISATIONS = "organisations"


class Sort(StrEnum):
    NEWEST = "newest"
    MOST_ENDORSED = "most_endorsed"


# Keys of each order, all descending; the id last makes the order total.
SORT_KEYS: dict[Sort, tuple[str, ...]] = {
    Sort.NEWEST: ("listed_at", "_id"),
    Sort.MOST_ENDORSED: ("endorsement_count", "listed_at", "_id"),
}


@dataclass
class Change:
    """An aggregate to store, the events its change raised, and whether it is new."""

    aggregate: Aggregate
    events: list[Event]
    new: bool = False


def to_document(aggregate: Aggregate) -> dict[str, Any]:
    doc = aggregate.model_dump(mode="json")
    doc["_id"] = doc.pop("id")
    if isinstance(aggregate, Practice):
        # Microseconds since the epoch: ISO strings of varying precision do not sort.
        listed = aggregate.published_at or aggregate.created_at
        doc["listed_at"] = int(listed.timestamp() * 1_000_000)
    return doc


def from_document(kind: type[A], doc: dict[str, Any]) -> A:
    doc = {k: v for k, v in doc.items() if k != "listed_at"}
    doc["id"] = doc.pop("_id")
    return kind.model_validate(doc)


def after_key(sort: Sort, last: list[Any]) -> dict[str, Any]:
    """Documents strictly after ``last`` in a descending order over ``SORT_KEYS[sort]``."""
    keys = SORT_KEYS[sort]
    branches = []
    for i, key in enumerate(keys):
        branch = {k: last[j] for j, k in enumerate(keys[:i])}
        branch[key] = {"$lt": last[i]}
        branches.append(branch)
    return {"$or": branches}


class ExchangeStore:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db

    async def ensure_indexes(self) -> None:
        practices = self.db[COLLECTIONS[Practice]]
        for sort in Sort:
            await practices.create_index(
                [("status", ASCENDING), *((k, DESCENDING) for k in SORT_KEYS[sort])]
            )
        for key in ("author_id", "content.service_area", "content.regions", "content.tags"):
            await practices.create_index([(key, ASCENDING)])
        await self.db[COLLECTIONS[Comment]].create_index(
            [("practice_id", ASCENDING), ("number", ASCENDING)], unique=True
        )

    # --- the organisation replica ---

    async def organisation(self, org_id: str) -> Organisation | None:
        doc = await self.db[ORGANISATIONS].find_one({"_id": org_id})
        return Organisation.model_validate({**doc, "id": doc["_id"]}) if doc else None

    async def organisations(self, ids: list[str]) -> dict[str, Organisation]:
        cursor = self.db[ORGANISATIONS].find({"_id": {"$in": ids}})
        return {d["_id"]: Organisation.model_validate({**d, "id": d["_id"]}) async for d in cursor}

    async def apply_organisation(self, org_id: str, version: int, fields: dict[str, Any]) -> bool:
        """Record what an organisation event says, unless a newer one is already here."""
        return await mongo.apply_if_newer(self.db[ORGANISATIONS], org_id, version, fields)

    # --- aggregates ---

    async def get(self, kind: type[A], aggregate_id: str) -> A | None:
        doc = await self.db[COLLECTIONS[kind]].find_one({"_id": aggregate_id})
        return from_document(kind, doc) if doc else None

    async def get_many(self, kind: type[A], ids: list[str]) -> dict[str, A]:
        cursor = self.db[COLLECTIONS[kind]].find({"_id": {"$in": ids}})
        return {doc["_id"]: from_document(kind, doc) async for doc in cursor}

    async def comments_of(self, practice_id: str) -> list[Comment]:
        cursor = self.db[COLLECTIONS[Comment]].find({"practice_id": practice_id})
        docs = await cursor.sort("number", ASCENDING).to_list()
        return [from_document(Comment, d) for d in docs]

    async def page_practices(
        self, query: dict[str, Any], sort: Sort, cursor: str | None, limit: int
    ) -> tuple[list[Practice], str | None]:
        """One page in ``sort`` order; the second value is the next page's cursor, if any."""
        after = decode_cursor(cursor)
        if after is not None:
            query = {"$and": [query, after_key(sort, _cursor_values(after, sort))]}
        order = [(k, DESCENDING) for k in SORT_KEYS[sort]]
        docs = (
            await self.db[COLLECTIONS[Practice]].find(query).sort(order).limit(limit + 1).to_list()
        )
        items = [from_document(Practice, d) for d in docs[:limit]]
        if len(docs) <= limit:
            return items, None
        last = docs[limit - 1]
        return items, encode_cursor(json.dumps([last[k] for k in SORT_KEYS[sort]]))

    async def count(self, kind: type[Aggregate]) -> int:
        return await self.db[COLLECTIONS[kind]].count_documents({})

    async def commit(self, changes: list[Change], correlation_id: str) -> None:
        """Store every change and stage its events atomically, then wake the relay."""

        async def work(session: AsyncClientSession) -> None:
            for change in changes:
                await self._save(session, change)
                await self.runtime.outbox.add(
                    session,
                    change.events,
                    aggregate_id=change.aggregate.id,
                    aggregate_version=change.aggregate.version,
                    correlation_id=correlation_id,
                )

        await mongo.in_transaction(self.runtime.mongo, work)
        if any(c.events for c in changes):
            self.runtime.outbox.wake_relay()

    async def _save(self, session: AsyncClientSession, change: Change) -> None:
        aggregate = change.aggregate
        collection = self.db[COLLECTIONS[type(aggregate)]]
        doc = to_document(aggregate)
        if change.new:
            try:
                await collection.insert_one(doc, session=session)
            except DuplicateKeyError as exc:
                raise AlreadyExists(f"{aggregate.id} already exists") from exc
            return
        # The version guard: only the version this change was made from may be replaced.
        result = await collection.replace_one(
            {"_id": aggregate.id, "version": aggregate.version - 1}, doc, session=session
        )
        if result.matched_count == 0:
            raise StaleVersion(
                f"{aggregate.id} changed while this change was being made: reload and try again"
            )


def _cursor_values(after: str, sort: Sort) -> list[Any]:
    try:
        values = json.loads(after)
    except ValueError as exc:
        raise DomainError("not a cursor this API issued", field="cursor") from exc
    if not isinstance(values, list) or len(values) != len(SORT_KEYS[sort]):
        raise DomainError("not a cursor of this sort order", field="cursor")
    return values
