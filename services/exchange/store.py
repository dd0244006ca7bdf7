"""Exchange persistence: aggregates and their outbox records in one transaction.

Also the organisation replica, written only by the registry's events under a
version guard, and the orders (with their indexes) that practices are listed in.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING

from pspx import mongo
from pspx.domain import Aggregate
from pspx.paging import Order
from pspx.store import AggregateStore
from services.exchange.domain import Comment, Organisation, Practice

COLLECTIONS: dict[type[Aggregate], str] = {Practice: "practices", Comment: "comments"}
ORGANISATIONS = "organisations"


class Sort(StrEnum):
    NEWEST = "newest"
    MOST_ENDORSED = "most_endorsed"


# Every order of practices is descending; the id last makes it total.
ORDERS: dict[Sort, Order] = {
    Sort.NEWEST: Order("newest", (("listed_at", DESCENDING), ("_id", DESCENDING))),
    Sort.MOST_ENDORSED: Order(
        "most_endorsed",
        (("endorsement_count", DESCENDING), ("listed_at", DESCENDING), ("_id", DESCENDING)),
    ),
}

# The moderation queue: comments waiting for a moderator, the longest waiting first.
AWAITING_MODERATION = Order("flagged", (("flagged_at", ASCENDING), ("_id", ASCENDING)))


def _microseconds(at: datetime) -> int:
    """Microseconds since the epoch: ISO strings of varying precision do not sort."""
    return int(at.timestamp() * 1_000_000)


class ExchangeStore(AggregateStore):
    collections: ClassVar[dict[type[Aggregate], str]] = COLLECTIONS
    query_fields = frozenset({"listed_at", "flagged_at"})

    def to_document(self, aggregate: Aggregate) -> dict[str, Any]:
        doc = super().to_document(aggregate)
        if isinstance(aggregate, Practice):
            doc["listed_at"] = _microseconds(aggregate.published_at or aggregate.created_at)
        if isinstance(aggregate, Comment) and aggregate.flags and aggregate.hidden is None:
            # Only a comment still waiting for a moderator has it, so the queue is one range.
            doc["flagged_at"] = _microseconds(aggregate.flags[0].at)
        return doc

    async def ensure_indexes(self) -> None:
        practices = self.db[COLLECTIONS[Practice]]
        for order in ORDERS.values():
            await practices.create_index([("status", ASCENDING), *order.keys])
        for key in ("author_id", "content.service_area", "content.regions", "content.tags"):
            await practices.create_index([(key, ASCENDING)])
        await self.db[COLLECTIONS[Comment]].create_index(
            [("practice_id", ASCENDING), ("number", ASCENDING)], unique=True
        )
        await self.db[COLLECTIONS[Comment]].create_index(list(AWAITING_MODERATION.keys))

    # --- the organisation replica ---

    async def organisation(self, org_id: str) -> Organisation | None:
        doc = await self.db[ORGANISATIONS].find_one({"_id": org_id})
        return Organisation.model_validate({**doc, "id": doc["_id"]}) if doc else None

    async def apply_organisations(self, changes: list[tuple[str, int, dict[str, Any]]]) -> int:
        """Record what organisation events say, except where a newer one is already here."""
        return await mongo.apply_newer(self.db[ORGANISATIONS], changes)

    async def count(self, kind: type[Aggregate]) -> int:
        return await self.db[COLLECTIONS[kind]].count_documents({})
