"""Matching's read side: rankings with reasons, similar items, consortium suggestions.

Answers are response models of their own, built from the engines' hits.
Nothing here changes the index; the HTTP API calls these and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from pspx.consumers import Intake
from pspx.errors import NotFound
from services.matching.documents import Query, need_query
from services.matching.engine import Consortium, Engine, Hit
from services.matching.index import MatchingIndex, title


class TermView(BaseModel):
    term: str = Field(description="A word of the query that the result shares")
    stem: str
    weight: float = Field(description="Its share of the score; a result's weights sum to it")


class ResultView(BaseModel):
    id: str
    name: str
    score: float
    terms: list[TermView]
    matched_filters: dict[str, list[str]]


class ResultsView(BaseModel):
    results: list[ResultView]


class NeedFitView(BaseModel):
    need_id: str
    title: str
    commissioner_id: str
    rank: int = Field(description="The partner's place on the need's shortlist, from 1")
    score: float
    terms: list[TermView]


class NeedFitsView(BaseModel):
    results: list[NeedFitView]


class MemberView(BaseModel):
    id: str
    name: str
    covers: list[str]


class ConsortiumView(BaseModel):
    suggested: bool
    reason: str
    members: list[MemberView]
    coverage: float
    best_single_coverage: float
    uncovered: list[str]


class LogView(BaseModel):
    read: int = Field(description="Records read from the log since the service started")
    skipped: dict[str, int] = Field(description="Events of types the index does not fold")
    dead_lettered: int = Field(
        description="Records that were not readable events, or events that kept failing"
    )


class IndexView(BaseModel):
    partners: int
    practices: int
    open_needs: int
    vocabulary: int
    delta_docs: int
    log: LogView = Field(description="What the index has read of the log")


def term_views(hit: Hit) -> list[TermView]:
    return [TermView(term=t.word, stem=t.term, weight=round(t.weight, 6)) for t in hit.terms]


def results(engine: Engine, hits: list[Hit]) -> ResultsView:
    return ResultsView(
        results=[
            ResultView(
                id=h.doc_id,
                name=title(engine, h.doc_id),
                score=round(h.score, 6),
                terms=term_views(h),
                matched_filters={k: list(v) for k, v in h.matched_filters.items()},
            )
            for h in hits
        ]
    )


def consortium(engine: Engine, found: Consortium | None) -> ConsortiumView:
    if found is None:
        return ConsortiumView(
            suggested=False,
            reason="One partner already covers most of the need, or no partner adds enough.",
            members=[],
            coverage=0.0,
            best_single_coverage=0.0,
            uncovered=[],
        )
    return ConsortiumView(
        suggested=True,
        reason=(
            f"Together these partners cover {found.coverage:.0%} of the need's terms; "
            f"the best single partner covers {found.best_single_coverage:.0%}."
        ),
        members=[
            MemberView(id=m.doc_id, name=title(engine, m.doc_id), covers=list(m.covers))
            for m in found.members
        ],
        coverage=round(found.coverage, 4),
        best_single_coverage=round(found.best_single_coverage, 4),
        uncovered=list(found.uncovered),
    )


class MatchingQueries:
    def __init__(self, index: MatchingIndex, intake: Intake) -> None:
        self.index = index
        self.intake = intake

    def _need_query(
        self,
        need_id: str,
        regions: Sequence[str] = (),
        kinds: Sequence[str] = (),
        service_areas: Sequence[str] = (),
        sizes: Sequence[str] = (),
    ) -> Query:
        need = self.index.need(need_id)
        if need is None:
            raise NotFound(f"no open need {need_id}", field="need_id")
        return need.query(regions=regions, kinds=kinds, service_areas=service_areas, sizes=sizes)

    # partners

    def partners_for_need(
        self,
        need_id: str,
        *,
        regions: Sequence[str] = (),
        kinds: Sequence[str] = (),
        service_areas: Sequence[str] = (),
        sizes: Sequence[str] = (),
        limit: int = 20,
    ) -> ResultsView:
        query = self._need_query(need_id, regions, kinds, service_areas, sizes)
        return results(self.index.partners, self.index.partners.search(query, limit))

    def partners_for_text(
        self,
        title_: str,
        description: str,
        outcomes: Sequence[str] = (),
        *,
        regions: Sequence[str] = (),
        kinds: Sequence[str] = (),
        service_areas: Sequence[str] = (),
        sizes: Sequence[str] = (),
        limit: int = 20,
    ) -> ResultsView:
        query = need_query(
            title_,
            description,
            outcomes,
            regions=regions,
            kinds=kinds,
            service_areas=service_areas,
            sizes=sizes,
        )
        return results(self.index.partners, self.index.partners.search(query, limit))

    def consortium_for_need(self, need_id: str) -> ConsortiumView:
        query = self._need_query(need_id)
        return consortium(self.index.partners, self.index.partners.suggest_consortium(query))

    def consortium_for_text(
        self, title_: str, description: str, outcomes: Sequence[str] = ()
    ) -> ConsortiumView:
        query = need_query(title_, description, outcomes)
        return consortium(self.index.partners, self.index.partners.suggest_consortium(query))

    def similar_partners(self, partner_id: str, limit: int) -> ResultsView:
        if partner_id not in self.index.partners:
            raise NotFound(f"no partner {partner_id} in the index", field="partner_id")
        return results(self.index.partners, self.index.partners.similar(partner_id, limit))

    def needs_for_partner(self, partner_id: str, limit: int) -> NeedFitsView:
        if partner_id not in self.index.partners:
            raise NotFound(f"no partner {partner_id} in the index", field="partner_id")
        return NeedFitsView(
            results=[
                NeedFitView(
                    need_id=need.id,
                    title=need.state.title,
                    commissioner_id=need.state.commissioner_id,
                    rank=rank,
                    score=round(hit.score, 6),
                    terms=term_views(hit),
                )
                for need, rank, hit in self.index.needs_for(partner_id)[:limit]
            ]
        )

    # practices

    def search_practices(
        self,
        text: str,
        *,
        regions: Sequence[str] = (),
        service_areas: Sequence[str] = (),
        limit: int = 20,
    ) -> ResultsView:
        filters = {"regions": regions, "service_area": service_areas}
        query = Query(text, {k: v for k, v in filters.items() if v})
        return results(self.index.practices, self.index.practices.search(query, limit))

    def similar_practices(self, practice_id: str, limit: int) -> ResultsView:
        if practice_id not in self.index.practices:
            raise NotFound(f"no published practice {practice_id}", field="practice_id")
        return results(self.index.practices, self.index.practices.similar(practice_id, limit))

    def partners_for_practice(
        self, practice_id: str, *, regions: Sequence[str] = (), limit: int = 20
    ) -> ResultsView:
        """Who could deliver a practice in these regions (its own author left out)."""
        query = self.index.practice_query(practice_id, regions)
        if query is None:
            raise NotFound(f"no published practice {practice_id}", field="practice_id")
        author = self.index.author_of(practice_id)
        hits = self.index.partners.search(query, limit + 1)
        return results(self.index.partners, [h for h in hits if h.doc_id != author][:limit])

    # operations

    def stats(self) -> IndexView:
        partners = self.index.partners
        stats = partners.stats()
        return IndexView(
            partners=len(partners),
            practices=len(self.index.practices),
            open_needs=len(self.index.needs),
            vocabulary=stats.vocabulary,
            delta_docs=stats.delta_docs,
            log=LogView(
                read=self.intake.read,
                skipped=dict(self.intake.skipped),
                dead_lettered=self.intake.dead_lettered,
            ),
        )
