"""The aggregate store: saves a change and its events in one MongoDB transaction.

A service's store subclasses ``AggregateStore``, names a collection per
aggregate type, and may add fields that exist only for its queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from pspx import mongo
from pspx.domain import Aggregate
from pspx.errors import AlreadyExists, NotFound, StaleVersion
from pspx.events import Event
from pspx.mongo import DUPLICATE_KEY
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
        """Store every change and stage its events atomically, then wake the relay.

        One write per collection and one for the outbox, however many changes: an
        import of a few hundred organisations costs a handful of round trips.
        """

        async def work(session: AsyncClientSession) -> None:
            new: dict[str, list[dict[str, Any]]] = defaultdict(list)
            replaced: dict[str, list[ReplaceOne]] = defaultdict(list)
            for change in changes:
                aggregate = change.aggregate
                collection = self.collections[type(aggregate)]
                doc = self.to_document(aggregate)
                if change.new:
                    new[collection].append(doc)
                else:
                    # The version guard: only the version this change was made from is replaced.
                    guard = {"_id": aggregate.id, "version": aggregate.version - 1}
                    replaced[collection].append(ReplaceOne(guard, doc))
            for collection, docs in new.items():
                await self._insert(collection, docs, session)
            for collection, ops in replaced.items():
                result = await self.db[collection].bulk_write(ops, session=session)
                if result.matched_count != len(ops):
                    raise StaleVersion(
                        "the stored version changed while this change was being made: "
                        "reload and try again"
                    )
            await self.runtime.outbox.stage(
                session,
                [(e, c.aggregate.id, c.aggregate.version) for c in changes for e in c.events],
                correlation_id,
            )

        await mongo.in_transaction(self.runtime.mongo, work)
        if any(c.events for c in changes):
            self.runtime.outbox.wake_relay()

    async def _insert(
        self, collection: str, docs: list[dict[str, Any]], session: AsyncClientSession
    ) -> None:
        try:
            await self.db[collection].insert_many(docs, session=session)
        except (DuplicateKeyError, BulkWriteError) as exc:
            if isinstance(exc, BulkWriteError) and not all(
                e.get("code") == DUPLICATE_KEY for e in exc.details.get("writeErrors", [])
            ):
                raise
            taken = _duplicate_id(exc) or "it"
            raise AlreadyExists(f"{taken} already exists") from exc


def _duplicate_id(exc: DuplicateKeyError | BulkWriteError) -> str | None:
    details = exc.details or {}
    if isinstance(exc, BulkWriteError):
        errors = details.get("writeErrors") or [{}]
        op = errors[0].get("op") or {}
        return op.get("_id")
    key = details.get("keyValue") or {}
    return key.get("_id")
