"""Registry HTTP API: commands and queries for organisations, needs and partnerships."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from pspx.aggregates import A
from pspx.events.registry import (
    NeedDetails,
    NeedStatus,
    OrganisationProfile,
    OrgId,
    OrgKind,
    Stage,
)
from pspx.http import decode_cursor, encode_cursor
from pspx.logs import current_correlation_id
from services.registry.domain import (
    Contribution,
    Ledger,
    Need,
    Organisation,
    OutcomeMetrics,
    Partnership,
)
from services.registry.route import RouteAnswers, RouteCheck, check_route
from services.registry.service import ImportResult, Registry
from services.registry.store import contains

T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Version = Annotated[int, Field(ge=1, description="The version this change was made against")]

router = APIRouter()


def registry(request: Request) -> Registry:
    service: Registry = request.app.state.registry
    return service


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


async def _page(
    request: Request, kind: type[A], query: dict[str, Any], cursor: str | None, limit: int
) -> PageOut[A]:
    items, last = await registry(request).store.page(kind, query, decode_cursor(cursor), limit)
    return PageOut[A](items=items, next_cursor=encode_cursor(last) if last else None)


# --- organisations ---------------------------------------------------------------------------


class RegisterOrganisation(BaseModel):
    id: OrgId = Field(examples=["GB-CHC-1000003", "GB-SC-SC012345", "GB-LAS-EDINBURGH"])
    profile: OrganisationProfile


class UpdateOrganisation(BaseModel):
    expected_version: Version
    profile: OrganisationProfile


class ImportOut(BaseModel):
    registered: int
    updated: int
    unchanged: int


@router.post("/organisations", status_code=status.HTTP_201_CREATED, tags=["organisations"])
async def register_organisation(body: RegisterOrganisation, request: Request) -> Organisation:
    return await registry(request).register(body.id, body.profile, current_correlation_id())


@router.post(
    "/organisations/import",
    tags=["organisations"],
    summary="Register or update a batch, idempotent on id",
)
async def import_organisations(
    body: Annotated[list[RegisterOrganisation], Field(max_length=1000)], request: Request
) -> ImportOut:
    result: ImportResult = await registry(request).import_organisations(
        [(row.id, row.profile) for row in body], current_correlation_id()
    )
    return ImportOut(
        registered=result.registered, updated=result.updated, unchanged=result.unchanged
    )


@router.get("/organisations", tags=["organisations"])
async def list_organisations(
    request: Request,
    kind: Annotated[list[OrgKind] | None, Query()] = None,
    region: str | None = None,
    service_area: str | None = None,
    q: Annotated[
        str | None, Query(description="Part of any current, alternate or former name")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> PageOut[Organisation]:
    query: dict[str, Any] = {"removed": False}
    if kind:
        query["profile.kind"] = {"$in": [k.value for k in kind]}
    if region:
        query["profile.regions"] = region
    if service_area:
        query["profile.service_areas"] = service_area
    if q:
        query["names_lc"] = contains(q)
    return await _page(request, Organisation, query, cursor, limit)


@router.get("/organisations/{org_id}", tags=["organisations"])
async def get_organisation(org_id: str, request: Request) -> Organisation:
    return await registry(request).organisation(org_id)


@router.put("/organisations/{org_id}", tags=["organisations"])
async def update_organisation(
    org_id: str, body: UpdateOrganisation, request: Request
) -> Organisation:
    return await registry(request).update_organisation(
        org_id, body.profile, body.expected_version, current_correlation_id()
    )


@router.delete("/organisations/{org_id}", tags=["organisations"])
async def remove_organisation(
    org_id: str, expected_version: Annotated[int, Query(ge=1)], request: Request
) -> Organisation:
    return await registry(request).remove_organisation(
        org_id, expected_version, current_correlation_id()
    )


# --- needs -----------------------------------------------------------------------------------


class PostNeed(BaseModel):
    commissioner_id: str
    details: NeedDetails


class ReviseNeed(BaseModel):
    expected_version: Version
    details: NeedDetails


class MoveNeed(BaseModel):
    expected_version: Version
    status: NeedStatus


@router.post("/needs", status_code=status.HTTP_201_CREATED, tags=["needs"])
async def post_need(body: PostNeed, request: Request) -> Need:
    return await registry(request).post_need(
        body.commissioner_id, body.details, current_correlation_id()
    )


@router.get("/needs", tags=["needs"])
async def list_needs(
    request: Request,
    commissioner_id: str | None = None,
    status_: Annotated[list[NeedStatus] | None, Query(alias="status")] = None,
    service_area: str | None = None,
    region: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> PageOut[Need]:
    query: dict[str, Any] = {}
    if commissioner_id:
        query["commissioner_id"] = commissioner_id
    if status_:
        query["status"] = {"$in": [s.value for s in status_]}
    if service_area:
        query["details.service_area"] = service_area
    if region:
        query["details.regions"] = region
    return await _page(request, Need, query, cursor, limit)


@router.get("/needs/{need_id}", tags=["needs"])
async def get_need(need_id: str, request: Request) -> Need:
    return await registry(request).need(need_id)


@router.put("/needs/{need_id}", tags=["needs"])
async def revise_need(need_id: str, body: ReviseNeed, request: Request) -> Need:
    return await registry(request).revise_need(
        need_id, body.details, body.expected_version, current_correlation_id()
    )


@router.post("/needs/{need_id}/status", tags=["needs"])
async def move_need(need_id: str, body: MoveNeed, request: Request) -> Need:
    return await registry(request).move_need(
        need_id, body.status, body.expected_version, current_correlation_id()
    )


# --- partnerships ----------------------------------------------------------------------------


class ProposePartnership(BaseModel):
    need_id: str
    partner_ids: list[str] = Field(
        min_length=1, max_length=20, description="One partner or a consortium"
    )
    route_answers: RouteAnswers = Field(default_factory=RouteAnswers)
    note: str = Field("", max_length=2000)


class MovePartnership(BaseModel):
    expected_version: Version
    to_stage: Stage
    note: str = Field("", max_length=2000)


class RecheckRoute(BaseModel):
    expected_version: Version
    route_answers: RouteAnswers


class AddContribution(BaseModel):
    expected_version: Version
    contribution: Contribution


class RecordOutcomes(BaseModel):
    expected_version: Version
    outcomes: OutcomeMetrics


class PartnershipOut(Partnership):
    ledger: Ledger


def _out(p: Partnership) -> PartnershipOut:
    return PartnershipOut(**p.model_dump(), ledger=Ledger.of(p))


@router.post("/partnerships", status_code=status.HTTP_201_CREATED, tags=["partnerships"])
async def propose_partnership(body: ProposePartnership, request: Request) -> PartnershipOut:
    p = await registry(request).propose(
        body.need_id, body.partner_ids, body.route_answers, body.note, current_correlation_id()
    )
    return _out(p)


@router.get("/partnerships", tags=["partnerships"])
async def list_partnerships(
    request: Request,
    need_id: str | None = None,
    org_id: Annotated[str | None, Query(description="Commissioner or partner")] = None,
    stage: Annotated[list[Stage] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> PageOut[Partnership]:
    query: dict[str, Any] = {}
    if need_id:
        query["need_id"] = need_id
    if org_id:
        query["$or"] = [{"commissioner_id": org_id}, {"partner_ids": org_id}]
    if stage:
        query["stage"] = {"$in": [s.value for s in stage]}
    return await _page(request, Partnership, query, cursor, limit)


@router.get("/partnerships/{partnership_id}", tags=["partnerships"])
async def get_partnership(partnership_id: str, request: Request) -> PartnershipOut:
    return _out(await registry(request).partnership(partnership_id))


@router.post("/partnerships/{partnership_id}/stage", tags=["partnerships"])
async def move_partnership(
    partnership_id: str, body: MovePartnership, request: Request
) -> PartnershipOut:
    p = await registry(request).move_partnership(
        partnership_id, body.to_stage, body.note, body.expected_version, current_correlation_id()
    )
    return _out(p)


@router.post("/partnerships/{partnership_id}/route-check", tags=["partnerships"])
async def recheck_route(
    partnership_id: str, body: RecheckRoute, request: Request
) -> PartnershipOut:
    p = await registry(request).recheck_route(
        partnership_id, body.route_answers, body.expected_version, current_correlation_id()
    )
    return _out(p)


@router.post("/partnerships/{partnership_id}/contributions", tags=["partnerships"])
async def add_contribution(
    partnership_id: str, body: AddContribution, request: Request
) -> PartnershipOut:
    p = await registry(request).contribute(
        partnership_id, body.contribution, body.expected_version, current_correlation_id()
    )
    return _out(p)


@router.put("/partnerships/{partnership_id}/outcomes", tags=["partnerships"])
async def record_outcomes(
    partnership_id: str, body: RecordOutcomes, request: Request
) -> PartnershipOut:
    p = await registry(request).record_outcomes(
        partnership_id, body.outcomes, body.expected_version, current_correlation_id()
    )
    return _out(p)


@router.post(
    "/route-check", tags=["partnerships"], summary="Preview the route check without storing it"
)
async def preview_route(answers: RouteAnswers) -> RouteCheck:
    return check_route(answers, partners=[], at=datetime.now(UTC))
