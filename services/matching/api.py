"""Matching HTTP API: rankings with reasons, similar items, consortium suggestions.

Every route asks the read side (``queries.py``); the index is in memory, so
no route waits on a database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pspx.events.registry import SizeBand
from pspx.http import errors
from services.matching.queries import (
    ConsortiumView,
    IndexView,
    MatchingQueries,
    NeedFitsView,
    ResultsView,
)

router = APIRouter(responses=errors(422))
Limit = Annotated[int, Query(ge=1, le=200)]
Values = Annotated[list[str] | None, Query(max_length=50)]
Words = Annotated[str, StringConstraints(max_length=200)]


def queries(request: Request) -> MatchingQueries:
    found: MatchingQueries = request.app.state.queries
    return found


class RankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=500)
    description: str = Field(min_length=1, max_length=20_000)
    outcomes: list[Words] = Field(default_factory=list, max_length=50)
    regions: list[Words] = Field(
        default_factory=list, max_length=50, description="Any of these (none: anywhere)"
    )
    kinds: list[Words] = Field(default_factory=list, max_length=20)
    service_areas: list[Words] = Field(default_factory=list, max_length=50)
    sizes: list[SizeBand] = Field(
        default_factory=list,
        max_length=4,
        description="Any of these size bands, by paid staff (none: any size); a partner "
        "whose profile gives no staff figure has no band, so matches none",
    )
    limit: int = Field(20, ge=1, le=200)


@router.get(
    "/needs/{need_id}/partners",
    tags=["partners"],
    summary="Rank partners for an open need",
    responses=errors(404),
)
async def rank_for_need(
    need_id: str,
    request: Request,
    region: Values = None,
    kind: Values = None,
    service_area: Values = None,
    size: Annotated[list[SizeBand] | None, Query(max_length=4)] = None,
    limit: Limit = 20,
) -> ResultsView:
    return queries(request).partners_for_need(
        need_id,
        regions=region or (),
        kinds=kind or (),
        service_areas=service_area or (),
        sizes=size or (),
        limit=limit,
    )


@router.post("/rank", tags=["partners"], summary="Rank partners for ad-hoc text with filters")
async def rank_text(body: RankRequest, request: Request) -> ResultsView:
    return queries(request).partners_for_text(
        body.title,
        body.description,
        body.outcomes,
        regions=body.regions,
        kinds=body.kinds,
        service_areas=body.service_areas,
        sizes=body.sizes,
        limit=body.limit,
    )


@router.get(
    "/needs/{need_id}/consortium",
    tags=["partners"],
    summary="Partners who together cover an open need",
    responses=errors(404),
)
async def consortium_for_need(need_id: str, request: Request) -> ConsortiumView:
    return queries(request).consortium_for_need(need_id)


@router.post("/consortium", tags=["partners"], summary="Partners who together cover ad-hoc text")
async def consortium_for_text(body: RankRequest, request: Request) -> ConsortiumView:
    return queries(request).consortium_for_text(body.title, body.description, body.outcomes)


@router.get("/partners/{partner_id}/similar", tags=["partners"], responses=errors(404))
async def similar_partners(partner_id: str, request: Request, limit: Limit = 10) -> ResultsView:
    return queries(request).similar_partners(partner_id, limit)


@router.get(
    "/partners/{partner_id}/needs",
    tags=["partners"],
    summary="Open needs whose shortlist a partner is on, its best-scored first",
    responses=errors(404),
)
async def needs_for_partner(partner_id: str, request: Request, limit: Limit = 20) -> NeedFitsView:
    return queries(request).needs_for_partner(partner_id, limit)


@router.get("/practices/search", tags=["practices"])
async def search_practices(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    region: Values = None,
    service_area: Values = None,
    limit: Limit = 20,
) -> ResultsView:
    return queries(request).search_practices(
        q, regions=region or (), service_areas=service_area or (), limit=limit
    )


@router.get("/practices/{practice_id}/similar", tags=["practices"], responses=errors(404))
async def similar_practices(practice_id: str, request: Request, limit: Limit = 10) -> ResultsView:
    return queries(request).similar_practices(practice_id, limit)


@router.get(
    "/practices/{practice_id}/partners",
    tags=["practices"],
    summary="Partners who could deliver a good practice in a region",
    responses=errors(404),
)
async def partners_for_practice(
    practice_id: str, request: Request, region: Values = None, limit: Limit = 20
) -> ResultsView:
    return queries(request).partners_for_practice(practice_id, regions=region or (), limit=limit)


@router.get("/index", tags=["operations"], summary="What the index holds")
async def index_stats(request: Request) -> IndexView:
    return queries(request).stats()
