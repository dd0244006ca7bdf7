"""Registry HTTP API: commands and queries for organisations, needs and partnerships.

Input models refuse unknown fields (a typo is an error, not a silent loss);
the event contracts they become are tolerant readers. Queries go to the read
side (``queries.py``); commands to the use cases (``service.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pspx.domain import utc_now
from pspx.events import Money
from pspx.events.registry import (
    Contact,
    NeedDetails,
    NeedStatus,
    OrganisationProfile,
    OrgId,
    OrgKind,
    Size,
    Stage,
)
from pspx.http import errors
from pspx.logs import current_correlation_id
from pspx.paging import Page
from services.registry.domain import OutcomeMetrics
from services.registry.queries import NeedView, OrganisationView, PartnershipView, RegistryQueries
from services.registry.route import RouteAnswers, RouteCheck, check_route
from services.registry.service import Registry

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="next_cursor of the previous page")
]
Ids = Annotated[list[str] | None, Query(max_length=200, description="Only these ids")]
Filter = Annotated[str | None, Query(max_length=200)]
Version = Annotated[int, Field(ge=1, description="The version this change was made against")]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
STRICT = ConfigDict(extra="forbid", frozen=True)

router = APIRouter(responses=errors(422, 503))


def registry(request: Request) -> Registry:
    service: Registry = request.app.state.registry
    return service


def queries(request: Request) -> RegistryQueries:
    found: RegistryQueries = request.app.state.queries
    return found


# --- inputs: the contracts, refusing unknown fields ------------------------------------------


class SizeInput(Size):
    model_config = STRICT


class ContactInput(Contact):
    model_config = STRICT


class ProfileInput(OrganisationProfile):
    model_config = STRICT

    size: SizeInput = Field(default_factory=SizeInput)
    contact: ContactInput = Field(default_factory=ContactInput)

    def contract(self) -> OrganisationProfile:
        return OrganisationProfile.model_validate(self.model_dump())


class NeedDetailsInput(NeedDetails):
    model_config = STRICT

    def contract(self) -> NeedDetails:
        return NeedDetails.model_validate(self.model_dump())


# --- organisations ---------------------------------------------------------------------------


class RegisterOrganisation(BaseModel):
    model_config = STRICT

    id: OrgId = Field(examples=["GB-CHC-1000003", "GB-SC-SC012345", "GB-LAS-EDINBURGH"])
    profile: ProfileInput


class UpdateOrganisation(BaseModel):
    model_config = STRICT

    expected_version: Version
    profile: ProfileInput


class ImportOut(BaseModel):
    registered: int
    updated: int
    unchanged: int


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    tags=["organisations"],
    responses=errors(409),
)
async def register_organisation(body: RegisterOrganisation, request: Request) -> OrganisationView:
    org = await registry(request).register(
        body.id, body.profile.contract(), current_correlation_id()
    )
    return OrganisationView.of(org)


@router.post(
    "/organisations/import",
    tags=["organisations"],
    summary="Register or update a batch, idempotent on id",
)
async def import_organisations(
    body: Annotated[list[RegisterOrganisation], Field(max_length=1000)], request: Request
) -> ImportOut:
    result = await registry(request).import_organisations(
        [(row.id, row.profile.contract()) for row in body], current_correlation_id()
    )
    return ImportOut(
        registered=result.registered, updated=result.updated, unchanged=result.unchanged
    )


@router.get("/organisations", tags=["organisations"])
async def list_organisations(
    request: Request,
    id: Ids = None,
    kind: Annotated[list[OrgKind] | None, Query()] = None,
    region: Filter = None,
    service_area: Filter = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Part of any current, alternate or former name"),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OrganisationView]:
    return await queries(request).organisations(
        ids=id,
        kinds=kind,
        region=region,
        service_area=service_area,
        name=q,
        cursor=cursor,
        limit=limit,
    )


@router.get("/organisations/{org_id}", tags=["organisations"], responses=errors(404))
async def get_organisation(org_id: str, request: Request) -> OrganisationView:
    return await queries(request).organisation(org_id)


@router.put("/organisations/{org_id}", tags=["organisations"], responses=errors(404, 409))
async def update_organisation(
    org_id: str, body: UpdateOrganisation, request: Request
) -> OrganisationView:
    org = await registry(request).update_organisation(
        org_id, body.profile.contract(), body.expected_version, current_correlation_id()
    )
    return OrganisationView.of(org)


@router.delete("/organisations/{org_id}", tags=["organisations"], responses=errors(404, 409))
async def remove_organisation(
    org_id: str, expected_version: Annotated[int, Query(ge=1)], request: Request
) -> OrganisationView:
    org = await registry(request).remove_organisation(
        org_id, expected_version, current_correlation_id()
    )
    return OrganisationView.of(org)


# --- needs -----------------------------------------------------------------------------------


class PostNeed(BaseModel):
    model_config = STRICT

    commissioner_id: str = Field(min_length=1, max_length=200)
    details: NeedDetailsInput


class ReviseNeed(BaseModel):
    model_config = STRICT

    expected_version: Version
    details: NeedDetailsInput


class MoveNeed(BaseModel):
    model_config = STRICT

    expected_version: Version
    status: NeedStatus


@router.post(
    "/needs", status_code=status.HTTP_201_CREATED, tags=["needs"], responses=errors(404, 409)
)
async def post_need(body: PostNeed, request: Request) -> NeedView:
    need = await registry(request).post_need(
        body.commissioner_id, body.details.contract(), current_correlation_id()
    )
    return NeedView.of(need)


@router.get("/needs", tags=["needs"])
async def list_needs(
    request: Request,
    id: Ids = None,
    commissioner_id: Filter = None,
    status_: Annotated[list[NeedStatus] | None, Query(alias="status")] = None,
    service_area: Filter = None,
    region: Filter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[NeedView]:
    return await queries(request).needs(
        ids=id,
        commissioner_id=commissioner_id,
        statuses=status_,
        service_area=service_area,
        region=region,
        cursor=cursor,
        limit=limit,
    )


@router.get("/needs/{need_id}", tags=["needs"], responses=errors(404))
async def get_need(need_id: str, request: Request) -> NeedView:
    return await queries(request).need(need_id)


@router.put("/needs/{need_id}", tags=["needs"], responses=errors(404, 409))
async def revise_need(need_id: str, body: ReviseNeed, request: Request) -> NeedView:
    need = await registry(request).revise_need(
        need_id, body.details.contract(), body.expected_version, current_correlation_id()
    )
    return NeedView.of(need)


@router.post("/needs/{need_id}/status", tags=["needs"], responses=errors(404, 409))
async def move_need(need_id: str, body: MoveNeed, request: Request) -> NeedView:
    need = await registry(request).move_need(
        need_id, body.status, body.expected_version, current_correlation_id()
    )
    return NeedView.of(need)


# --- partnerships ----------------------------------------------------------------------------


class ProposePartnership(BaseModel):
    model_config = STRICT

    need_id: str = Field(min_length=1, max_length=200)
    partner_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20, description="One partner or a consortium"
    )
    route_answers: RouteAnswers = Field(default_factory=RouteAnswers)
    note: Note = ""


class MovePartnership(BaseModel):
    model_config = STRICT

    expected_version: Version
    to_stage: Stage
    note: Note = ""


class RecheckRoute(BaseModel):
    model_config = STRICT

    expected_version: Version
    route_answers: RouteAnswers


class ContributionInput(BaseModel):
    model_config = STRICT

    party_id: str = Field(min_length=1, max_length=200, description="The commissioner or a partner")
    form: Literal["money", "in_kind"]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    value_gbp: Money = Field(description="Money, or the estimated value of an in-kind input")


class AddContribution(BaseModel):
    model_config = STRICT

    expected_version: Version
    contribution: ContributionInput


class RecordOutcomes(BaseModel):
    model_config = STRICT

    expected_version: Version
    outcomes: OutcomeMetrics


@router.post(
    "/partnerships",
    status_code=status.HTTP_201_CREATED,
    tags=["partnerships"],
    responses=errors(404, 409),
)
async def propose_partnership(body: ProposePartnership, request: Request) -> PartnershipView:
    p = await registry(request).propose(
        body.need_id, body.partner_ids, body.route_answers, body.note, current_correlation_id()
    )
    return PartnershipView.of(p)


@router.get("/partnerships", tags=["partnerships"])
async def list_partnerships(
    request: Request,
    id: Ids = None,
    need_id: Filter = None,
    org_id: Annotated[
        str | None, Query(max_length=200, description="Commissioner or partner")
    ] = None,
    stage: Annotated[list[Stage] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PartnershipView]:
    return await queries(request).partnerships(
        ids=id, need_id=need_id, org_id=org_id, stages=stage, cursor=cursor, limit=limit
    )


@router.get("/partnerships/{partnership_id}", tags=["partnerships"], responses=errors(404))
async def get_partnership(partnership_id: str, request: Request) -> PartnershipView:
    return await queries(request).partnership(partnership_id)


@router.post(
    "/partnerships/{partnership_id}/stage", tags=["partnerships"], responses=errors(404, 409)
)
async def move_partnership(
    partnership_id: str, body: MovePartnership, request: Request
) -> PartnershipView:
    p = await registry(request).move_partnership(
        partnership_id, body.to_stage, body.note, body.expected_version, current_correlation_id()
    )
    return PartnershipView.of(p)


@router.post(
    "/partnerships/{partnership_id}/route-check",
    tags=["partnerships"],
    responses=errors(404, 409),
)
async def recheck_route(
    partnership_id: str, body: RecheckRoute, request: Request
) -> PartnershipView:
    p = await registry(request).recheck_route(
        partnership_id, body.route_answers, body.expected_version, current_correlation_id()
    )
    return PartnershipView.of(p)


@router.post(
    "/partnerships/{partnership_id}/contributions",
    tags=["partnerships"],
    responses=errors(404, 409),
)
async def add_contribution(
    partnership_id: str, body: AddContribution, request: Request
) -> PartnershipView:
    c = body.contribution
    p = await registry(request).contribute(
        partnership_id,
        c.party_id,
        c.form,
        c.description,
        c.value_gbp,
        body.expected_version,
        current_correlation_id(),
    )
    return PartnershipView.of(p)


@router.put(
    "/partnerships/{partnership_id}/outcomes", tags=["partnerships"], responses=errors(404, 409)
)
async def record_outcomes(
    partnership_id: str, body: RecordOutcomes, request: Request
) -> PartnershipView:
    p = await registry(request).record_outcomes(
        partnership_id, body.outcomes, body.expected_version, current_correlation_id()
    )
    return PartnershipView.of(p)


@router.post(
    "/route-check", tags=["partnerships"], summary="Preview the route check without storing it"
)
async def preview_route(answers: RouteAnswers) -> RouteCheck:
    return check_route(answers, partners=[], at=utc_now())
