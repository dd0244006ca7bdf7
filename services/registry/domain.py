"""Registry domain: organisations, needs, partnerships and the route check. No I/O.

Each command method checks its rules, changes the aggregate, bumps its version
and returns the events that the change raised; the caller stores both together.
Creation is a class method that returns the new aggregate and its events.
Commands take the time as an argument (``at``): the service reads its clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pspx.domain import Aggregate
from pspx.errors import AlreadyExists, DomainError
from pspx.events import Count, Event, Measure, Money
from pspx.events.registry import (
    ContributionRecorded,
    NeedClosed,
    NeedDetails,
    NeedPosted,
    NeedState,
    NeedStatus,
    NeedUpdated,
    OrganisationProfile,
    OrganisationRegistered,
    OrganisationRemoved,
    OrganisationUpdated,
    OrgId,
    OrgKind,
    OutcomesRecorded,
    PartnershipProposed,
    PartnershipStageChanged,
    RouteChecked,
    Stage,
)
from services.registry.route import RouteAnswers, RouteCheck, check_route

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


# --- organisations ---------------------------------------------------------------------------


class Organisation(Aggregate):
    id: OrgId
    profile: OrganisationProfile
    removed: bool = False
    registered_at: datetime
    updated_at: datetime

    @classmethod
    def register(
        cls, org_id: str, profile: OrganisationProfile, at: datetime
    ) -> tuple[Organisation, list[Event]]:
        org = cls(id=org_id, profile=profile, registered_at=at, updated_at=at)
        org._bump()
        return org, [OrganisationRegistered(id=org.id, profile=profile)]

    def update(self, profile: OrganisationProfile, at: datetime) -> list[Event]:
        self._live()
        if profile == self.profile:
            return []
        self.profile = profile
        self.updated_at = at
        self._bump()
        return [OrganisationUpdated(id=self.id, profile=profile)]

    def reregister(self, profile: OrganisationProfile, at: datetime) -> list[Event]:
        """A removed organisation registering again under its identifier."""
        if not self.removed:
            raise AlreadyExists(f"organisation {self.id} is already registered")
        self.removed = False
        self.profile = profile
        self.updated_at = at
        self._bump()
        return [OrganisationRegistered(id=self.id, profile=profile)]

    def remove(self, at: datetime) -> list[Event]:
        self._live()
        self.removed = True
        self.updated_at = at
        self._bump()
        return [OrganisationRemoved(id=self.id, name=self.profile.name)]

    @property
    def kind(self) -> OrgKind:
        return self.profile.kind

    def _live(self) -> None:
        if self.removed:
            raise DomainError(f"organisation {self.id} has been removed")


# --- needs -----------------------------------------------------------------------------------

# Needs move forward only; closing is possible from any open state.
NEED_MOVES: dict[NeedStatus, frozenset[NeedStatus]] = {
    NeedStatus.OPEN: frozenset({NeedStatus.SHORTLISTING, NeedStatus.CO_DESIGN, NeedStatus.CLOSED}),
    NeedStatus.SHORTLISTING: frozenset({NeedStatus.CO_DESIGN, NeedStatus.CLOSED}),
    NeedStatus.CO_DESIGN: frozenset({NeedStatus.CLOSED}),
    NeedStatus.CLOSED: frozenset(),
}


def check_need_details(details: NeedDetails) -> None:
    low, high = details.budget_min_gbp, details.budget_max_gbp
    if low is not None and high is not None and low > high:
        raise DomainError("must not exceed budget_max_gbp", field="budget_min_gbp")


class Need(Aggregate):
    commissioner_id: str
    details: NeedDetails
    status: NeedStatus = NeedStatus.OPEN
    posted_at: datetime
    updated_at: datetime

    @classmethod
    def post(
        cls, need_id: str, commissioner: Organisation, details: NeedDetails, at: datetime
    ) -> tuple[Need, list[Event]]:
        if commissioner.removed or commissioner.kind is not OrgKind.PUBLIC_BODY:
            raise DomainError(
                f"{commissioner.id} is not a registered public body; only commissioners post needs",
                field="commissioner_id",
            )
        check_need_details(details)
        need = cls(
            id=need_id,
            commissioner_id=commissioner.id,
            details=details,
            posted_at=at,
            updated_at=at,
        )
        need._bump()
        return need, [NeedPosted(id=need.id, need=need.state())]

    def revise(self, details: NeedDetails, at: datetime) -> list[Event]:
        self._open()
        check_need_details(details)
        if details == self.details:
            return []
        self.details = details
        self.updated_at = at
        self._bump()
        return [NeedUpdated(id=self.id, need=self.state())]

    def move_to(self, status: NeedStatus, at: datetime) -> list[Event]:
        if status == self.status:
            return []
        if status not in NEED_MOVES[self.status]:
            raise DomainError(f"a need cannot move from {self.status} to {status}", field="status")
        self.status = status
        self.updated_at = at
        self._bump()
        event = NeedClosed if status is NeedStatus.CLOSED else NeedUpdated
        return [event(id=self.id, need=self.state())]

    def state(self) -> NeedState:
        return NeedState(
            **self.details.model_dump(), commissioner_id=self.commissioner_id, status=self.status
        )

    def _open(self) -> None:
        if self.status is NeedStatus.CLOSED:
            raise DomainError(f"need {self.id} is closed")


# --- partnerships ----------------------------------------------------------------------------

# The PSP path: co-plan, pilot, then commission; declining ends it at any live stage.
STAGE_MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.PROPOSED: frozenset({Stage.CO_PLANNING, Stage.DECLINED}),
    Stage.CO_PLANNING: frozenset({Stage.PILOT, Stage.DECLINED}),
    Stage.PILOT: frozenset({Stage.COMMISSIONED, Stage.DECLINED}),
    Stage.COMMISSIONED: frozenset({Stage.CLOSED, Stage.DECLINED}),
    Stage.CLOSED: frozenset(),
    Stage.DECLINED: frozenset(),
}


class StageChange(BaseModel):
    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    note: Note = ""


class OutcomeMetrics(BaseModel):
    """Accountability measures: what the partnership achieved."""

    model_config = ConfigDict(extra="forbid")

    people_served: Count | None = None
    cost_savings_gbp: Money | None = None
    quality_measures: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=100)], Measure
    ] = Field(default_factory=dict, max_length=50)


class Contribution(BaseModel):
    """One line of the two-sided ledger: what a party puts in."""

    party_id: str
    form: Literal["money", "in_kind"]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    value_gbp: Money = Field(description="Money, or the estimated value of an in-kind input")
    recorded_at: datetime


class OutcomeRecord(BaseModel):
    """The outcome metrics as measured at one time: the partnership keeps them all."""

    metrics: OutcomeMetrics
    recorded_at: datetime


class Partnership(Aggregate):
    need_id: str
    commissioner_id: str
    partner_ids: list[str]
    stage: Stage = Stage.PROPOSED
    history: list[StageChange] = Field(default_factory=list)
    route_check: RouteCheck | None = None
    contributions: list[Contribution] = Field(default_factory=list)
    outcomes: OutcomeMetrics = Field(
        default_factory=OutcomeMetrics, description="The latest outcome metrics"
    )
    outcome_history: list[OutcomeRecord] = Field(
        default_factory=list, description="Every recording of the outcome metrics, oldest first"
    )

    @classmethod
    def propose(
        cls,
        partnership_id: str,
        need: Need,
        partners: list[Organisation],
        answers: RouteAnswers,
        note: str,
        at: datetime,
    ) -> tuple[Partnership, list[Event]]:
        if need.status is NeedStatus.CLOSED:
            raise DomainError(f"need {need.id} is closed", field="need_id")
        check_partners(partners)
        route = check_route(answers, partners=[p.profile for p in partners], at=at)
        partnership = cls(
            id=partnership_id,
            need_id=need.id,
            commissioner_id=need.commissioner_id,
            partner_ids=[p.id for p in partners],
            history=[StageChange(from_stage=None, to_stage=Stage.PROPOSED, at=at, note=note)],
            route_check=route,
        )
        partnership._bump()
        event = PartnershipProposed(
            **partnership._parties(),
            stage=Stage.PROPOSED,
            recommendation=route.recommendation,
            proposed_at=at,
        )
        return partnership, [event]

    def move_to(self, stage: Stage, note: str, at: datetime) -> list[Event]:
        if stage not in STAGE_MOVES[self.stage]:
            allowed = ", ".join(sorted(STAGE_MOVES[self.stage])) or "none: it has ended"
            raise DomainError(
                f"a partnership cannot move from {self.stage} to {stage} "
                f"(allowed from {self.stage}: {allowed})",
                field="to_stage",
            )
        change = StageChange(from_stage=self.stage, to_stage=stage, at=at, note=note)
        self.history.append(change)
        self.stage = stage
        self._bump()
        return [
            PartnershipStageChanged(
                **self._parties(),
                from_stage=change.from_stage or stage,
                to_stage=stage,
                note=note,
                changed_at=change.at,
            )
        ]

    def recheck_route(
        self, answers: RouteAnswers, partners: list[Organisation], at: datetime
    ) -> list[Event]:
        self._live()
        route = check_route(answers, partners=[p.profile for p in partners], at=at)
        self.route_check = route
        self._bump()
        return [
            RouteChecked(
                **self._parties(),
                recommendation=route.recommendation,
                missing=route.missing,
                checked_at=at,
            )
        ]

    def contribute(
        self,
        party_id: str,
        form: Literal["money", "in_kind"],
        description: str,
        value_gbp: int,
        at: datetime,
    ) -> list[Event]:
        self._live()
        if party_id not in {self.commissioner_id, *self.partner_ids}:
            raise DomainError(
                f"{party_id} is not a party to partnership {self.id}", field="party_id"
            )
        line = Contribution(
            party_id=party_id,
            form=form,
            description=description,
            value_gbp=value_gbp,
            recorded_at=at,
        )
        self.contributions.append(line)
        self._bump()
        return [ContributionRecorded(**self._parties(), **line.model_dump())]

    def record_outcomes(self, outcomes: OutcomeMetrics, at: datetime) -> list[Event]:
        if self.stage in (Stage.PROPOSED, Stage.DECLINED):
            raise DomainError("only a partnership past proposal records outcomes", field="outcomes")
        self.outcomes = outcomes
        self.outcome_history.append(OutcomeRecord(metrics=outcomes, recorded_at=at))
        self._bump()
        return [OutcomesRecorded(**self._parties(), **outcomes.model_dump(), recorded_at=at)]

    def _parties(self) -> dict[str, Any]:
        """The fields every partnership event carries (see ``PartnershipEvent``)."""
        return {
            "id": self.id,
            "need_id": self.need_id,
            "commissioner_id": self.commissioner_id,
            "partner_ids": self.partner_ids,
        }

    def _live(self) -> None:
        if self.stage in (Stage.CLOSED, Stage.DECLINED):
            raise DomainError(f"partnership {self.id} has ended ({self.stage})")


def check_partners(partners: list[Organisation]) -> None:
    if not partners:
        raise DomainError("name at least one partner", field="partner_ids")
    if len({p.id for p in partners}) != len(partners):
        raise DomainError("a partner is named twice", field="partner_ids")
    for p in partners:
        if p.removed:
            raise DomainError(f"{p.id} has been removed", field="partner_ids")
        if p.kind is OrgKind.PUBLIC_BODY:
            raise DomainError(f"{p.id} is a public body, not a partner", field="partner_ids")
    if not any(p.kind.is_third_sector for p in partners):
        raise DomainError(
            "a partnership needs at least one third-sector organisation; "
            "private firms may only join a consortium",
            field="partner_ids",
        )


class PartyTotal(BaseModel):
    party_id: str
    side: Literal["public", "third_sector"]
    money_gbp: int
    in_kind_gbp: int


class Ledger(BaseModel):
    parties: list[PartyTotal]
    co_financed: bool = Field(
        description="Both sides contribute, in money or in kind (the VSOPP co-financing test)"
    )

    @classmethod
    def of(cls, p: Partnership) -> Ledger:
        totals = {
            party: PartyTotal(
                party_id=party,
                side="public" if party == p.commissioner_id else "third_sector",
                money_gbp=0,
                in_kind_gbp=0,
            )
            for party in (p.commissioner_id, *p.partner_ids)
        }
        for c in p.contributions:
            t = totals[c.party_id]
            if c.form == "money":
                t.money_gbp += c.value_gbp
            else:
                t.in_kind_gbp += c.value_gbp
        sides = {t.side for t in totals.values() if t.money_gbp or t.in_kind_gbp}
        sides |= {
            totals[c.party_id].side for c in p.contributions if c.form == "in_kind"
        }  # an in-kind input of unstated value still counts
        return cls(parties=list(totals.values()), co_financed=sides == {"public", "third_sector"})
