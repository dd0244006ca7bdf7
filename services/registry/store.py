"""Registry persistence: aggregates and their outbox records in one transaction."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pymongo import ASCENDING

from pspx.aggregates import A, Aggregate, AggregateStore
from services.registry.domain import Need, Organisation, Partnership


def _names(org: Organisation) -> list[str]:
    p = org.profile
    return [n.lower() for n in (p.name, *p.alternate_names, *p.former_names)]


def contains(text: str) -> dict[str, Any]:
    return {"$regex": re.escape(text.strip().lower())}


class RegistryStore(AggregateStore):
    collections: ClassVar[dict[type[Aggregate], str]] = {
        Organisation: "organisations",
        Need: "needs",
        Partnership: "partnerships",
    }
    # Organisations are searchable by every name they have had, case-insensitively.
    query_fields = frozenset({"names_lc"})

    def to_document(self, aggregate: Aggregate) -> dict[str, Any]:
        doc = super().to_document(aggregate)
        if isinstance(aggregate, Organisation):
            doc["names_lc"] = _names(aggregate)
        return doc

    async def ensure_indexes(self) -> None:
        orgs = self.db[self.collections[Organisation]]
        for key in ("names_lc", "profile.kind", "profile.regions", "profile.service_areas"):
            await orgs.create_index([(key, ASCENDING)])
        needs = self.db[self.collections[Need]]
        for key in ("commissioner_id", "status", "details.service_area"):
            await needs.create_index([(key, ASCENDING)])
        partnerships = self.db[self.collections[Partnership]]
        for key in ("need_id", "commissioner_id", "partner_ids", "stage"):
            await partnerships.create_index([(key, ASCENDING)])

    async def page(
        self, kind: type[A], query: dict[str, Any], after: str | None, limit: int
    ) -> tuple[list[A], str | None]:
        """One page in identifier order; the second value is the last id if more follow."""
        if after is not None:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        cursor = self.db[self.collections[kind]].find(query).sort("_id", ASCENDING).limit(limit + 1)
        docs = await cursor.to_list()
        items = [self.from_document(kind, d) for d in docs[:limit]]
        return items, (items[-1].id if len(docs) > limit else None)
