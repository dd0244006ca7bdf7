"""Exchange persistence: aggregates and their outbox records in one transaction.

Also the organisation replica, written only by the registry's events under a
version guard, and the keyset queries behind the practice listing.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

from pymongo import ASCENDING, DESCENDING

from pspx import mongo
from pspx.aggregates import Aggregate, AggregateStore
from pspx.errors import DomainError
from pspx.http import decode_cursor, encode_cursor
from services.exchange.domain import Comment, Organisation, Practice

ORGANISATIONS = "organisations"


class Sort(StrEnum):
    NEWEST = "newest"
    MOST_ENDORSED = "most_endorsed"


# Keys of each order, all descending; the id last makes the order total.
SORT_KEYS: dict[Sort, tuple[str, ...]] = {
    Sort.NEWEST: ("listed_at", "_id"),
    Sort.MOST_ENDORSED: ("endorsement_count", "listed_at", "_id"),
}


def after_key(sort: Sort, last: list[Any]) -> dict[str, Any]:
    """Documents strictly after ``last`` in a descending order over ``SORT_KEYS[sort]``."""
    keys = SORT_KEYS[sort]
    branches = []
    for i, key in enumerate(keys):
        branch = {k: last[j] for j, k in enumerate(keys[:i])}
        branch[key] = {"$lt": last[i]}
        branches.append(branch)
    return {"$or": branches}


class ExchangeStore(AggregateStore):
    collections: ClassVar[dict[type[Aggregate], str]] = {
        Practice: "practices",
        Comment: "comments",
    }
    query_fields = frozenset({"listed_at"})

    def to_document(self, aggregate: Aggregate) -> dict[str, Any]:
        doc = super().to_document(aggregate)
        if isinstance(aggregate, Practice):
            # Microseconds since the epoch: ISO strings of varying precision do not sort.
            listed = aggregate.published_at or aggregate.created_at
            doc["listed_at"] = int(listed.timestamp() * 1_000_000)
        return doc

    async def ensure_indexes(self) -> None:
        practices = self.db[self.collections[Practice]]
        for sort in Sort:
            await practices.create_index(
                [("status", ASCENDING), *((k, DESCENDING) for k in SORT_KEYS[sort])]
            )
        for key in ("author_id", "content.service_area", "content.regions", "content.tags"):
            await practices.create_index([(key, ASCENDING)])
        await self.db[self.collections[Comment]].create_index(
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

    async def comments_of(self, practice_id: str) -> list[Comment]:
        cursor = self.db[self.collections[Comment]].find({"practice_id": practice_id})
        docs = await cursor.sort("number", ASCENDING).to_list()
        return [self.from_document(Comment, d) for d in docs]

    async def page_practices(
        self, query: dict[str, Any], sort: Sort, cursor: str | None, limit: int
    ) -> tuple[list[Practice], str | None]:
        """One page in ``sort`` order; the second value is the next page's cursor, if any."""
        after = decode_cursor(cursor)
        if after is not None:
            query = {"$and": [query, after_key(sort, _cursor_values(after, sort))]}
        order = [(k, DESCENDING) for k in SORT_KEYS[sort]]
        docs = (
            await self.db[self.collections[Practice]]
            .find(query)
            .sort(order)
            .limit(limit + 1)
            .to_list()
        )
        items = [self.from_document(Practice, d) for d in docs[:limit]]
        if len(docs) <= limit:
            return items, None
        last = docs[limit - 1]
        return items, encode_cursor(json.dumps([last[k] for k in SORT_KEYS[sort]]))

    async def count(self, kind: type[Aggregate]) -> int:
        return await self.db[self.collections[kind]].count_documents({})


def _cursor_values(after: str, sort: Sort) -> list[Any]:
    try:
        values = json.loads(after)
    except ValueError as exc:
        raise DomainError("not a cursor this API issued", field="cursor") from exc
    if not isinstance(values, list) or len(values) != len(SORT_KEYS[sort]):
        raise DomainError("not a cursor of this sort order", field="cursor")
    return values
