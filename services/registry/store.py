"""Registry persistence: aggregates and their outbox records in one transaction."""

from __future__ import annotations

from typing import Any, ClassVar

from pymongo import ASCENDING

from pspx.domain import Aggregate
from pspx.store import AggregateStore
from services.registry.domain import Need, Organisation, Partnership

COLLECTIONS: dict[type[Aggregate], str] = {
    Organisation: "organisations",
    Need: "needs",
    Partnership: "partnerships",
}


def _names(org: Organisation) -> list[str]:
    p = org.profile
    return [n.lower() for n in (p.name, *p.alternate_names, *p.former_names)]


class RegistryStore(AggregateStore):
    collections: ClassVar[dict[type[Aggregate], str]] = COLLECTIONS
    # Organisations are searchable by every name they have had, case-insensitively.
    query_fields = frozenset({"names_lc"})

    def to_document(self, aggregate: Aggregate) -> dict[str, Any]:
        doc = super().to_document(aggregate)
        if isinstance(aggregate, Organisation):
            doc["names_lc"] = _names(aggregate)
        return doc

    async def ensure_indexes(self) -> None:
        # Names only: other filters (kind, region, service area) are common values, and a
        # listing finds a page of them by scanning in id order; an index on each would cost
        # every registration a write (bench/imports).
        await self.db[COLLECTIONS[Organisation]].create_index([("names_lc", ASCENDING)])
        needs = self.db[COLLECTIONS[Need]]
        for key in ("commissioner_id", "status", "details.service_area"):
            await needs.create_index([(key, ASCENDING)])
        partnerships = self.db[COLLECTIONS[Partnership]]
        for key in ("need_id", "commissioner_id", "partner_ids", "stage"):
            await partnerships.create_index([(key, ASCENDING)])
