"""The aggregate store: saves a change and its events in one MongoDB transaction.

A service's store subclasses ``AggregateStore``, names a collection per
aggregate type, and may add fields that exist only for its queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from pspx import mongo
from pspx.domain import Aggregate
from pspx.errors import AlreadyExists, NotFound, StaleVersion
from pspx.events import Event
from pspx.runtime import Runtime

A = TypeVar("A", bound=Aggregate)


@dataclass
class Change:
    """An aggregate to store, the events its change raised, and whether it is new."""

    aggregate: Aggregate
    events: list[Event]
    new: bool = False


class AggregateStore:
    collections: ClassVar[dict[type[Aggregate], str]]
    query_fields: ClassVar[frozenset[str]] = frozenset()  # added by ``to_document``

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.db = runtime.db

    def to_document(self, aggregate: Aggregate) -> dict[str, Any]:
        doc = aggregate.model_dump(mode="json")
        doc["_id"] = doc.pop("id")
        return doc

    def from_document(self, kind: type[A], doc: dict[str, Any]) -> A:
        fields = {k: v for k, v in doc.items() if k not in self.query_fields}
        fields["id"] = fields.pop("_id")
        return kind.model_validate(fields)

    async def get(self, kind: type[A], aggregate_id: str) -> A | None:
        doc = await self.db[self.collections[kind]].find_one({"_id": aggregate_id})
        return self.from_document(kind, doc) if doc else None

    async def get_many(self, kind: type[A], ids: list[str]) -> dict[str, A]:
        cursor = self.db[self.collections[kind]].find({"_id": {"$in": ids}})
        return {doc["_id"]: self.from_document(kind, doc) async for doc in cursor}

    async def load(
        self, kind: type[A], aggregate_id: str, expected_version: int | None = None
    ) -> A:
        """The aggregate, refusing a change made against another version than the stored one."""
        aggregate = await self.get(kind, aggregate_id)
        if aggregate is None:
            raise NotFound(f"{kind.__name__.lower()} {aggregate_id} does not exist")
        if expected_version is not None:
            aggregate.expect(expected_version)
        return aggregate

    async def save(
        self, aggregate: Aggregate, events: list[Event], correlation_id: str, *, new: bool = False
    ) -> None:
        """Commit one aggregate's change with its events."""
        await self.commit([Change(aggregate, events, new=new)], correlation_id)

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
        collection = self.db[self.collections[type(aggregate)]]
        doc = self.to_document(aggregate)
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
