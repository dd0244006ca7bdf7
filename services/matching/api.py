"""Matching HTTP API: rankings with reasons, similar items, consortium suggestions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from pspx.errors import NotFound
from services.matching.engine import Consortium, Engine, Hit
from services.matching.engine import Query as EngineQuery
from services.matching.index import MatchingIndex, need_query

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=200)]
Values = Annotated[list[str] | None, Query()]


def index(request: Request) -> MatchingIndex:
    found: MatchingIndex = request.app.state.index
    return found


class TermOut(BaseModel):
    term: str = Field(description="A word of the query that the result shares")
    stem: str
    weight: float = Field(description="Its share of the score; a result's weights sum to it")


class ResultOut(BaseModel):
    id: str
    name: str
    score: float
    terms: list[TermOut]
    matched_filters: dict[str, list[str]]


class ResultsOut(BaseModel):
    results: list[ResultOut]


def _title(engine: Engine, doc_id: str) -> str:
    doc = engine.get(doc_id)
    if doc is None:
        return ""
    for field in ("name", "title"):
        if doc.fields.get(field):
            return doc.fields[field][0]
    return ""


def results(engine: Engine, hits: list[Hit]) -> ResultsOut:
    return ResultsOut(
        results=[
            ResultOut(
                id=h.doc_id,
                name=_title(engine, h.doc_id),
                score=round(h.score, 6),
                terms=[
                    TermOut(term=t.word, stem=t.term, weight=round(t.weight, 6)) for t in h.terms
                ],
                matched_filters={k: list(v) for k, v in h.matched_filters.items()},
            )
            for h in hits
        ]
    )


class RankRequest(BaseModel):
    title: str = Field("", max_length=500)
    description: str = Field(min_length=1, max_length=20_000)
    outcomes: list[str] = Field(default_factory=list, max_length=50)
    regions: list[str] = Field(default_factory=list, description="Any of these (none: anywhere)")
    kinds: list[str] = Field(default_factory=list)
    service_areas: list[str] = Field(default_factory=list)
    limit: int = Field(20, ge=1, le=200)

    def query(self) -> EngineQuery:
        return need_query(
            self.title,
            self.description,
            self.outcomes,
            regions=self.regions,
            kinds=self.kinds,
            service_areas=self.service_areas,
        )


@router.get(
    "/needs/{need_id}/partners", tags=["partners"], summary="Rank partners for a stored need"
)
async def rank_for_need(
    need_id: str,
    request: Request,
    region: Values = None,
    kind: Values = None,
    service_area: Values = None,
    limit: Limit = 20,
) -> ResultsOut:
    idx = index(request)
    need = idx.needs.get(need_id)
    if need is None:
        raise NotFound(f"no open need {need_id}", field="need_id")
    query = need.query(regions=region or (), kinds=kind or (), service_areas=service_area or ())
    return results(idx.partners, idx.partners.search(query, limit))


@router.post("/rank", tags=["partners"], summary="Rank partners for ad-hoc text with filters")
async def rank_text(body: RankRequest, request: Request) -> ResultsOut:
    idx = index(request)
    return results(idx.partners, idx.partners.search(body.query(), body.limit))


class MemberOut(BaseModel):
    id: str
    name: str
    covers: list[str]


class ConsortiumOut(BaseModel):
    suggested: bool
    reason: str
    members: list[MemberOut]
    coverage: float
    best_single_coverage: float
    uncovered: list[str]


def consortium_out(engine: Engine, found: Consortium | None) -> ConsortiumOut:
    if found is None:
        return ConsortiumOut(
            suggested=False,
            reason="One partner already covers most of the need, or no partner adds enough.",
            members=[],
            coverage=0.0,
            best_single_coverage=0.0,
            uncovered=[],
        )
    return ConsortiumOut(
        suggested=True,
        reason=(
            f"Together these partners cover {found.coverage:.0%} of the need's terms; "
            f"the best single partner covers {found.best_single_coverage:.0%}."
        ),
        members=[
            MemberOut(id=m.doc_id, name=_title(engine, m.doc_id), covers=list(m.covers))
            for m in found.members
        ],
        coverage=round(found.coverage, 4),
        best_single_coverage=round(found.best_single_coverage, 4),
        uncovered=list(found.uncovered),
    )


@router.get(
    "/needs/{need_id}/consortium", tags=["partners"], summary="Partners who together cover a need"
)
async def consortium_for_need(need_id: str, request: Request) -> ConsortiumOut:
    idx = index(request)
    need = idx.needs.get(need_id)
    if need is None:
        raise NotFound(f"no open need {need_id}", field="need_id")
    return consortium_out(idx.partners, idx.partners.suggest_consortium(need.query()))


@router.post("/consortium", tags=["partners"], summary="Partners who together cover ad-hoc text")
async def consortium_for_text(body: RankRequest, request: Request) -> ConsortiumOut:
    idx = index(request)
    return consortium_out(idx.partners, idx.partners.suggest_consortium(body.query()))


@router.get("/partners/{partner_id}/similar", tags=["partners"])
async def similar_partners(partner_id: str, request: Request, limit: Limit = 10) -> ResultsOut:
    idx = index(request)
    if partner_id not in idx.partners:
        raise NotFound(f"no partner {partner_id} in the index", field="partner_id")
    return results(idx.partners, idx.partners.similar(partner_id, limit))


@router.get("/practices/search", tags=["practices"])
async def search_practices(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    region: Values = None,
    service_area: Values = None,
    limit: Limit = 20,
) -> ResultsOut:
    idx = index(request)
    filters = {"regions": region or [], "service_area": service_area or []}
    query = EngineQuery(q, {k: v for k, v in filters.items() if v})
    return results(idx.practices, idx.practices.search(query, limit))


@router.get("/practices/{practice_id}/similar", tags=["practices"])
async def similar_practices(practice_id: str, request: Request, limit: Limit = 10) -> ResultsOut:
    idx = index(request)
    if practice_id not in idx.practices:
        raise NotFound(f"no published practice {practice_id}", field="practice_id")
    return results(idx.practices, idx.practices.similar(practice_id, limit))


@router.get(
    "/practices/{practice_id}/partners",
    tags=["practices"],
    summary="Partners who could deliver a good practice in a region",
)
async def partners_for_practice(
    practice_id: str, request: Request, region: Values = None, limit: Limit = 20
) -> ResultsOut:
    idx = index(request)
    doc = idx.practices.get(practice_id)
    if doc is None:
        raise NotFound(f"no published practice {practice_id}", field="practice_id")
    text = "\n".join(
        t
        for field in ("title", "summary", "body", "service_area")
        for t in doc.fields.get(field, ())
    )
    author = idx.practice_authors.get(practice_id)
    query = EngineQuery(text, {"regions": region} if region else {})
    hits = [h for h in idx.partners.search(query, limit + 1) if h.doc_id != author][:limit]
    return results(idx.partners, hits)


class IndexOut(BaseModel):
    partners: int
    practices: int
    open_needs: int
    vocabulary: int
    delta_docs: int


@router.get("/index", tags=["operations"], summary="What the index holds")
async def index_stats(request: Request) -> IndexOut:
    idx = index(request)
    stats = idx.partners.stats()
    return IndexOut(
        partners=len(idx.partners),
        practices=len(idx.practices),
        open_needs=len(idx.needs),
        vocabulary=stats.vocabulary,
        delta_docs=stats.delta_docs,
    )
