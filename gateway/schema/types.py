"""What the schema shows: organisations, needs, partnerships, practices and rankings.

Each type is built from a service's JSON answer (``from_json``); fields that
reach another service (a need's commissioner, a ranked partner's profile) go
through the request's DataLoaders, so a page of them costs one call a service.
Who may see what is decided in ``gateway.auth``; the resolvers here ask it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Self

import strawberry
from strawberry import relay
from strawberry.types import Info

from gateway import rules
from gateway.clients import Refused
from gateway.schema.context import Context, Json
from pspx.events.registry import NeedStatus, OrgKind, SizeBand, Stage, size_band

OrgKindEnum = strawberry.enum(OrgKind, name="OrgKind", description="What kind of organisation")
NeedStatusEnum = strawberry.enum(NeedStatus, name="NeedStatus")
StageEnum = strawberry.enum(
    Stage, name="Stage", description="Where a partnership is: proposed to commissioned or ended"
)


@strawberry.enum(
    name="SizeBand", description="An organisation's size by its paid staff: the UK's standard bands"
)
class SizeBandEnum(Enum):
    MICRO = strawberry.enum_value(SizeBand.MICRO.value, description="0 to 9 paid staff")
    SMALL = strawberry.enum_value(SizeBand.SMALL.value, description="10 to 49 paid staff")
    MEDIUM = strawberry.enum_value(SizeBand.MEDIUM.value, description="50 to 249 paid staff")
    LARGE = strawberry.enum_value(SizeBand.LARGE.value, description="250 or more paid staff")


@strawberry.enum(description="How a practice stands on the exchange")
class PracticeStatus(Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


@strawberry.enum(description="The route the answers point to")
class Recommendation(Enum):
    PARTNERSHIP = "partnership"
    PSP_CO_PLANNING = "psp_co_planning"
    COMPETITIVE_PROCUREMENT = "competitive_procurement"


def when(value: str | None) -> datetime | None:
    """A service's optional timestamp."""
    return datetime.fromisoformat(value) if value else None


# -- Rankings -----------------------------------------------------------------------------


@strawberry.type(description="A word shared with the query, and its share of the score")
class Reason:
    term: str
    weight: float

    @classmethod
    def many(cls, terms: Iterable[Json]) -> list[Self]:
        """A service's ``terms`` (each with a term and its weight) as reasons."""
        return [cls(term=t["term"], weight=t["weight"]) for t in terms]


@strawberry.type(description="A filter the result satisfied, and the values that matched")
class MatchedFilter:
    name: str
    values: list[str]


@strawberry.type(description="A partner ranked for a need or a search, and why it ranks there")
class RankedPartner:
    rank: int
    partner_id: str
    name: str
    score: float = strawberry.field(description="Cosine similarity, 0 to 1")
    reasons: list[Reason] = strawberry.field(
        description="The words that contributed most; their weights sum to the score"
    )
    matched_filters: list[MatchedFilter]

    @strawberry.field(description="The partner's profile (null if it has since left)")
    async def partner(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.partner_id)

    @classmethod
    def many(cls, results: Iterable[Json]) -> list[Self]:
        return [
            cls(
                rank=n,
                partner_id=r["id"],
                name=r["name"],
                score=r["score"],
                reasons=Reason.many(r["terms"]),
                matched_filters=[
                    MatchedFilter(name=k, values=v) for k, v in r.get("matched_filters", {}).items()
                ],
            )
            for n, r in enumerate(results, start=1)
        ]


@strawberry.type(description="A consortium member and what of the need it covers")
class ConsortiumMember:
    partner_id: str
    name: str
    covers: list[str]

    @strawberry.field
    async def partner(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.partner_id)


@strawberry.type(description="Partners who together cover a need no single partner covers")
class Consortium:
    suggested: bool
    reason: str
    members: list[ConsortiumMember]
    coverage: float
    best_single_coverage: float
    uncovered: list[str]

    @classmethod
    def from_json(cls, d: Json) -> Self:
        return cls(
            suggested=d["suggested"],
            reason=d["reason"],
            members=[
                ConsortiumMember(partner_id=m["id"], name=m["name"], covers=m["covers"])
                for m in d["members"]
            ],
            coverage=d["coverage"],
            best_single_coverage=d["best_single_coverage"],
            uncovered=d["uncovered"],
        )


# -- Organisations ------------------------------------------------------------------------


@strawberry.type
class Size:
    income_band: str | None
    staff: int | None
    volunteers: int | None


@strawberry.type
class Contact:
    email: str | None
    phone: str | None


@strawberry.type(description="A public body or a third-sector organisation, as it describes itself")
class Organisation(relay.Node):
    key: relay.NodeID[str]
    version: int
    name: str
    kind: OrgKindEnum  # type: ignore[valid-type]
    alternate_names: list[str]
    former_names: list[str]
    description: str
    activities: list[str]
    service_areas: list[str]
    regions: list[str]
    languages: list[str]
    size: Size
    contact: Contact
    website: str | None
    registered_at: datetime
    updated_at: datetime

    @strawberry.field(description="The org-id.guide identifier, e.g. GB-CHC-1000003")
    def org_id(self) -> str:
        return self.key

    @strawberry.field(description="A charity, social enterprise, cooperative or the like")
    def third_sector(self) -> bool:
        return OrgKind(self.kind).is_third_sector

    @strawberry.field(description="Its size band by paid staff; null if it gives no staff figure")
    def size_band(self) -> SizeBandEnum | None:
        band = size_band(self.size.staff)
        return None if band is None else SizeBandEnum(band.value)

    @strawberry.field(description="Partners whose work is most like this one's")
    async def similar(self, info: Info[Context, None], first: int = 10) -> list[RankedPartner]:
        found = await info.context.services.matching.similar_partners(
            self.key, rules.page_size(first)
        )
        return RankedPartner.many(found["results"])

    @classmethod
    def from_json(cls, d: Json) -> Self:
        p = d["profile"]
        return cls(
            key=d["id"],
            version=d["version"],
            name=p["name"],
            kind=OrgKind(p["kind"]),
            alternate_names=p.get("alternate_names", []),
            former_names=p.get("former_names", []),
            description=p.get("description", ""),
            activities=p.get("activities", []),
            service_areas=p.get("service_areas", []),
            regions=p.get("regions", []),
            languages=p.get("languages", []),
            size=Size(
                **{k: p.get("size", {}).get(k) for k in ("income_band", "staff", "volunteers")}
            ),
            contact=Contact(**{k: p.get("contact", {}).get(k) for k in ("email", "phone")}),
            website=p.get("website"),
            registered_at=datetime.fromisoformat(d["registered_at"]),
            updated_at=datetime.fromisoformat(d["updated_at"]),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        found = await info.context.loaders.organisation.load_many(list(node_ids))
        return [cls.from_json(d) if d else None for d in found]


async def organisation(info: Info[Context, None], org_id: str) -> Organisation | None:
    """An organisation's profile through the request's DataLoader (null if it has left)."""
    found = await info.context.loaders.organisation.load(org_id)
    return Organisation.from_json(found) if found else None


# -- Needs --------------------------------------------------------------------------------


@strawberry.type(description="A commissioner's service need")
class Need(relay.Node):
    key: relay.NodeID[str]
    version: int
    commissioner_id: str
    title: str
    description: str
    service_area: str | None
    regions: list[str]
    outcomes: list[str]
    budget_min_gbp: int | None
    budget_max_gbp: int | None
    duration_months: int | None
    in_kind: list[str]
    deadline: date | None
    status: NeedStatusEnum  # type: ignore[valid-type]
    posted_at: datetime
    updated_at: datetime

    @strawberry.field(description="The need's own identifier")
    def need_id(self) -> str:
        return self.key

    @strawberry.field
    async def commissioner(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.commissioner_id)

    @strawberry.field(
        description="The shortlist: partners ranked for this need, best first, with the reasons "
        "(the need's commissioner and operators only)"
    )
    async def partners(
        self,
        info: Info[Context, None],
        first: int = 20,
        region: list[str] | None = None,
        kind: list[OrgKindEnum] | None = None,  # type: ignore[valid-type]
        service_area: list[str] | None = None,
    ) -> list[RankedPartner]:
        rules.may_see_shortlist(await info.context.viewer(), self.commissioner_id)
        try:
            found = await info.context.services.matching.for_need(
                self.key,
                region=region,
                kind=[OrgKind(k).value for k in kind] if kind else None,
                service_area=service_area,
                limit=rules.page_size(first),
            )
        except Refused as exc:
            if exc.status == 404:  # not ranked yet (just posted), or closed: no shortlist
                return []
            raise
        return RankedPartner.many(found["results"])

    @strawberry.field(
        description="Partners who together cover the need when no single one does "
        "(the need's commissioner and operators only)"
    )
    async def consortium(self, info: Info[Context, None]) -> Consortium:
        rules.may_see_shortlist(await info.context.viewer(), self.commissioner_id)
        try:
            found = await info.context.services.matching.consortium_for_need(self.key)
        except Refused as exc:
            if exc.status != 404:
                raise
            found = {  # not ranked yet, or closed: nothing to suggest
                "suggested": False,
                "reason": "The need is not ranked: it was posted a moment ago, or is closed.",
                "members": [],
                "coverage": 0.0,
                "best_single_coverage": 0.0,
                "uncovered": [],
            }
        return Consortium.from_json(found)

    @classmethod
    def from_json(cls, d: Json) -> Self:
        n = d["details"]
        return cls(
            key=d["id"],
            version=d["version"],
            commissioner_id=d["commissioner_id"],
            title=n["title"],
            description=n["description"],
            service_area=n.get("service_area"),
            regions=n.get("regions", []),
            outcomes=n.get("outcomes", []),
            budget_min_gbp=n.get("budget_min_gbp"),
            budget_max_gbp=n.get("budget_max_gbp"),
            duration_months=n.get("duration_months"),
            in_kind=n.get("in_kind", []),
            deadline=date.fromisoformat(n["deadline"]) if n.get("deadline") else None,
            status=NeedStatus(d["status"]),
            posted_at=datetime.fromisoformat(d["posted_at"]),
            updated_at=datetime.fromisoformat(d["updated_at"]),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        rules.signed_in(await info.context.viewer())
        found = await info.context.loaders.need.load_many(list(node_ids))
        return [cls.from_json(d) if d else None for d in found]


async def need(info: Info[Context, None], need_id: str) -> Need | None:
    found = await info.context.loaders.need.load(need_id)
    return Need.from_json(found) if found else None


@strawberry.type(description="An open need whose shortlist a partner is on, and why")
class FittingNeed:
    need_id: str
    title: str
    commissioner_id: str
    rank: int = strawberry.field(description="The partner's place on the need's shortlist")
    score: float = strawberry.field(description="Cosine similarity, 0 to 1")
    reasons: list[Reason] = strawberry.field(
        description="The words that contributed most; their weights sum to the score"
    )

    @strawberry.field(description="The need as the registry holds it (null if it has gone)")
    async def need(self, info: Info[Context, None]) -> Need | None:
        return await need(info, self.need_id)

    @classmethod
    def many(cls, results: Iterable[Json]) -> list[Self]:
        return [
            cls(
                need_id=r["need_id"],
                title=r["title"],
                commissioner_id=r["commissioner_id"],
                rank=r["rank"],
                score=r["score"],
                reasons=Reason.many(r["terms"]),
            )
            for r in results
        ]


# -- Partnerships -------------------------------------------------------------------------


@strawberry.type(description="A dated move from one stage to the next")
class StageChange:
    from_stage: StageEnum | None  # type: ignore[valid-type]
    to_stage: StageEnum  # type: ignore[valid-type]
    at: datetime
    note: str


@strawberry.type(description="One criterion of the route check, and why it is met or not")
class Criterion:
    code: str
    framework: str
    question: str
    answer: bool | None = strawberry.field(description="null: not answered yet")
    met: bool
    reason: str


@strawberry.type(description="Which route the answers point to: PSP, partnership or procurement")
class RouteCheck:
    recommendation: Recommendation
    summary: str
    criteria: list[Criterion]
    missing: list[str] = strawberry.field(description="Questions still unanswered")
    notes: str
    disclaimer: str
    checked_at: datetime | None

    @classmethod
    def from_json(cls, d: Json) -> Self:
        return cls(
            recommendation=Recommendation(d["recommendation"]),
            summary=d["summary"],
            criteria=[Criterion(**c) for c in d["criteria"]],
            missing=d["missing"],
            notes=d.get("notes", ""),
            disclaimer=d.get("disclaimer", ""),
            checked_at=when(d.get("checked_at")),
        )


@strawberry.type(description="A line of the ledger: what one party puts in")
class Contribution:
    party_id: str
    form: str = strawberry.field(description="money or in_kind")
    description: str
    value_gbp: int
    recorded_at: datetime


@strawberry.type(description="What one party puts in, in money and in kind")
class PartyTotal:
    party_id: str
    side: str = strawberry.field(description="public or third_sector")
    money_gbp: int
    in_kind_gbp: int


@strawberry.type(description="The two-sided ledger")
class Ledger:
    parties: list[PartyTotal]
    co_financed: bool = strawberry.field(description="Both sides put something in")


@strawberry.type
class QualityMeasure:
    name: str
    value: float


@strawberry.type(description="Outcome metrics as measured at one time")
class Outcomes:
    people_served: int | None
    cost_savings_gbp: int | None
    quality_measures: list[QualityMeasure]
    recorded_at: datetime | None

    @classmethod
    def from_json(cls, d: Json, at: str | None) -> Self:
        return cls(
            people_served=d.get("people_served"),
            cost_savings_gbp=d.get("cost_savings_gbp"),
            quality_measures=[
                QualityMeasure(name=k, value=v) for k, v in d.get("quality_measures", {}).items()
            ],
            recorded_at=when(at),
        )


@strawberry.type(description="A partnership between a commissioner and third-sector partners")
class Partnership(relay.Node):
    key: relay.NodeID[str]
    version: int
    need_id: str
    commissioner_id: str
    partner_ids: list[str]
    stage: StageEnum  # type: ignore[valid-type]
    history: list[StageChange]
    route_check: RouteCheck | None
    contributions: list[Contribution]
    ledger: Ledger
    outcomes: Outcomes
    outcome_history: list[Outcomes]

    @strawberry.field
    def partnership_id(self) -> str:
        return self.key

    @strawberry.field
    async def need(self, info: Info[Context, None]) -> Need | None:
        return await need(info, self.need_id)

    @strawberry.field
    async def commissioner(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.commissioner_id)

    @strawberry.field
    async def partners(self, info: Info[Context, None]) -> list[Organisation]:
        found = await info.context.loaders.organisation.load_many(self.partner_ids)
        return [Organisation.from_json(d) for d in found if d]

    @classmethod
    def from_json(cls, d: Json) -> Self:
        history = d.get("outcome_history", [])
        return cls(
            key=d["id"],
            version=d["version"],
            need_id=d["need_id"],
            commissioner_id=d["commissioner_id"],
            partner_ids=d["partner_ids"],
            stage=Stage(d["stage"]),
            history=[
                StageChange(
                    from_stage=Stage(h["from_stage"]) if h.get("from_stage") else None,
                    to_stage=Stage(h["to_stage"]),
                    at=datetime.fromisoformat(h["at"]),
                    note=h.get("note", ""),
                )
                for h in d["history"]
            ],
            route_check=RouteCheck.from_json(d["route_check"]) if d.get("route_check") else None,
            contributions=[
                Contribution(
                    party_id=c["party_id"],
                    form=c["form"],
                    description=c["description"],
                    value_gbp=c["value_gbp"],
                    recorded_at=datetime.fromisoformat(c["recorded_at"]),
                )
                for c in d["contributions"]
            ],
            ledger=Ledger(
                parties=[PartyTotal(**p) for p in d["ledger"]["parties"]],
                co_financed=d["ledger"]["co_financed"],
            ),
            outcomes=Outcomes.from_json(
                d["outcomes"], history[-1]["recorded_at"] if history else None
            ),
            outcome_history=[Outcomes.from_json(h["metrics"], h["recorded_at"]) for h in history],
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        viewer = rules.signed_in(await info.context.viewer())
        found = await info.context.loaders.partnership.load_many(list(node_ids))
        return [cls.from_json(d) if d and rules.is_party(viewer, d) else None for d in found]
