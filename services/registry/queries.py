"""The registry's read side: what its HTTP API answers, as response models of their own.

Queries read the registry's collections with the kernel's keyset paging; they
never change anything. A command's answer is the same view, made from the
aggregate it just stored (``OrganisationView.of`` and the like).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase

from pspx import paging
from pspx.errors import NotFound
from pspx.events.registry import NeedDetails, NeedStatus, OrganisationProfile, OrgKind, Stage
from pspx.paging import Page
from services.registry.domain import (
    Contribution,
    Ledger,
    Need,
    Organisation,
    OutcomeMetrics,
    OutcomeRecord,
    Partnership,
    StageChange,
)
from services.registry.route import RouteCheck
from services.registry.store import COLLECTIONS

Document = dict[str, Any]


class OrganisationView(BaseModel):
    id: str
    version: int
    profile: OrganisationProfile
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, org: Organisation) -> OrganisationView:
        return cls.model_validate(org.model_dump())


class NeedView(BaseModel):
    id: str
    version: int
    commissioner_id: str
    details: NeedDetails
    status: NeedStatus
    posted_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, need: Need) -> NeedView:
        return cls.model_validate(need.model_dump())


class PartnershipView(BaseModel):
    id: str
    version: int
    need_id: str
    commissioner_id: str
    partner_ids: list[str]
    stage: Stage
    history: list[StageChange] = Field(description="Every stage it has been in, dated")
    route_check: RouteCheck | None
    contributions: list[Contribution]
    ledger: Ledger = Field(description="What each party puts in, in money and in kind")
    outcomes: OutcomeMetrics = Field(description="The latest outcome metrics")
    outcome_history: list[OutcomeRecord]

    @classmethod
    def of(cls, p: Partnership) -> PartnershipView:
        return cls.model_validate({**p.model_dump(), "ledger": Ledger.of(p)})


def _fields(doc: Document) -> Document:
    return {**doc, "id": doc["_id"]}


def contains(text: str) -> dict[str, Any]:
    """Case-insensitive containment on a lower-cased field."""
    return {"$regex": re.escape(text.strip().lower())}


class RegistryQueries:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._organisations = db[COLLECTIONS[Organisation]]
        self._needs = db[COLLECTIONS[Need]]
        self._partnerships = db[COLLECTIONS[Partnership]]

    # organisations

    async def organisation(self, org_id: str) -> OrganisationView:
        doc = await self._organisations.find_one({"_id": org_id})
        if doc is None:
            raise NotFound(f"organisation {org_id} does not exist")
        if doc.get("removed"):
            raise NotFound(f"organisation {org_id} has been removed")
        return OrganisationView.model_validate(_fields(doc))

    async def organisations(
        self,
        *,
        ids: list[str] | None = None,
        kinds: list[OrgKind] | None = None,
        region: str | None = None,
        service_area: str | None = None,
        name: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[OrganisationView]:
        query: Document = {"removed": False}
        if ids:
            query["_id"] = {"$in": ids}
        if kinds:
            query["profile.kind"] = {"$in": [k.value for k in kinds]}
        if region:
            query["profile.regions"] = region
        if service_area:
            query["profile.service_areas"] = service_area
        if name:
            query["names_lc"] = contains(name)
        docs, next_cursor = await paging.page(
            self._organisations, query, paging.BY_ID, cursor, limit
        )
        items = [OrganisationView.model_validate(_fields(d)) for d in docs]
        return Page[OrganisationView](items=items, next_cursor=next_cursor)

    # needs

    async def need(self, need_id: str) -> NeedView:
        doc = await self._needs.find_one({"_id": need_id})
        if doc is None:
            raise NotFound(f"need {need_id} does not exist")
        return NeedView.model_validate(_fields(doc))

    async def needs(
        self,
        *,
        ids: list[str] | None = None,
        commissioner_id: str | None = None,
        statuses: list[NeedStatus] | None = None,
        service_area: str | None = None,
        region: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[NeedView]:
        query: Document = {}
        if ids:
            query["_id"] = {"$in": ids}
        if commissioner_id:
            query["commissioner_id"] = commissioner_id
        if statuses:
            query["status"] = {"$in": [s.value for s in statuses]}
        if service_area:
            query["details.service_area"] = service_area
        if region:
            query["details.regions"] = region
        docs, next_cursor = await paging.page(self._needs, query, paging.BY_ID, cursor, limit)
        return Page[NeedView](
            items=[NeedView.model_validate(_fields(d)) for d in docs], next_cursor=next_cursor
        )

    # partnerships

    async def partnership(self, partnership_id: str) -> PartnershipView:
        doc = await self._partnerships.find_one({"_id": partnership_id})
        if doc is None:
            raise NotFound(f"partnership {partnership_id} does not exist")
        return PartnershipView.of(Partnership.model_validate(_fields(doc)))

    async def partnerships(
        self,
        *,
        ids: list[str] | None = None,
        need_id: str | None = None,
        org_id: str | None = None,
        stages: list[Stage] | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[PartnershipView]:
        query: Document = {}
        if ids:
            query["_id"] = {"$in": ids}
        if need_id:
            query["need_id"] = need_id
        if org_id:
            query["$or"] = [{"commissioner_id": org_id}, {"partner_ids": org_id}]
        if stages:
            query["stage"] = {"$in": [s.value for s in stages]}
        docs, next_cursor = await paging.page(
            self._partnerships, query, paging.BY_ID, cursor, limit
        )
        items = [PartnershipView.of(Partnership.model_validate(_fields(d))) for d in docs]
        return Page[PartnershipView](items=items, next_cursor=next_cursor)
