"""Registry persistence: aggregates and their outbox records in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from pspx import mongo
from pspx.errors import AlreadyExists, StaleVersion
from pspx.events import Event
from pspx.runtime import Runtime
from services.registry.domain import Aggregate, Need, Organisation, Partnership

A = TypeVar("A", bound=Aggregate)

COLLECTIONS: dict[type[Aggregate], str] = {
    Organisation: "organisations",
    Need: "needs",
    Partnership: "partnerships",
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
    if isinstance(aggregate, Organisation):
        # Searchable by every name it has had, case-insensitively.
        p = aggregate.profile
        doc["names_lc"] = [n.lower() for n in (p.name, *p.alternate_names, *p.former_names)]
    return doc


def from_document(kind: type[A], doc: dict[str, Any]) -> A:
    doc = {k: v for k, v in doc.items() if k != "names_lc"}
    doc["id"] = doc.pop("_id")
    return kind.model_validate(doc)


def contains(text: str) -> dict[str, Any]:
    return {"$regex": re.escape(text.strip().lower())}


class RegistryStore:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db

    async def ensure_indexes(self) -> None:
        orgs = self.db[COLLECTIONS[Organisation]]
        for key in ("names_lc", "profile.kind", "profile.regions", "profile.service_areas"):
            await orgs.create_index([(key, ASCENDING)])
        needs = self.db[COLLECTIONS[Need]]
        for key in ("commissioner_id", "status", "details.service_area"):
            await needs.create_index([(key, ASCENDING)])
        partnerships = self.db[COLLECTIONS[Partnership]]
        for key in ("need_id", "commissioner_id", "partner_ids", "stage"):
            await partnerships.create_index([(key, ASCENDING)])

    async def get(self, kind: type[A], aggregate_id: str) -> A | None:
        doc = await self.db[COLLECTIONS[kind]].find_one({"_id": aggregate_id})
        return from_document(kind, doc) if doc else None

    async def get_many(self, kind: type[A], ids: list[str]) -> dict[str, A]:
        cursor = self.db[COLLECTIONS[kind]].find({"_id": {"$in": ids}})
        return {doc["_id"]: from_document(kind, doc) async for doc in cursor}

    async def page(
        self, kind: type[A], query: dict[str, Any], after: str | None, limit: int
    ) -> tuple[list[A], str | None]:
        """One page in identifier order; the second value is the last id if more follow."""
        if after is not None:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        cursor = self.db[COLLECTIONS[kind]].find(query).sort("_id", ASCENDING).limit(limit + 1)
        docs = await cursor.to_list()
        items = [from_document(kind, d) for d in docs[:limit]]
        return items, (items[-1].id if len(docs) > limit else None)

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
                f"{aggregate.id} changed while this update was being made: reload and try again"
            )
