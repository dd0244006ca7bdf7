"""Registry domain rules: stage machine, needs, partners, ledger, optimistic versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from pspx.errors import DomainError, StaleVersion
from pspx.events.registry import (
    ContributionRecorded,
    NeedDetails,
    NeedStatus,
    OrganisationProfile,
    OrgKind,
    OutcomesRecorded,
    RouteChecked,
    Stage,
)
from services.registry.domain import (
    STAGE_MOVES,
    Ledger,
    Need,
    Organisation,
    OutcomeMetrics,
    Partnership,
)
from services.registry.route import RouteAnswers

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def org(org_id: str, kind: OrgKind, name: str = "An organisation") -> Organisation:
    return Organisation.register(org_id, OrganisationProfile(name=name, kind=kind), T0)[0]


COUNCIL = org("GB-LAS-FIF", OrgKind.PUBLIC_BODY, "Fife Council")
CHARITY = org("GB-SC-SC012345", OrgKind.CHARITY, "Befrienders")
FIRM = org("GB-COH-01234567", OrgKind.PRIVATE, "Logistics Ltd")


def need() -> Need:
    details = NeedDetails(title="Befriending", description="Befriending for older people")
    return Need.post("need-1", COUNCIL, details, T0)[0]


def partnership(*partners: Organisation) -> Partnership:
    chosen = list(partners or (CHARITY,))
    return Partnership.propose("psp-1", need(), chosen, RouteAnswers(), "", T0)[0]


def test_the_psp_path_runs_proposed_to_closed_with_dated_history() -> None:
    p = partnership()
    for day, stage in enumerate((Stage.CO_PLANNING, Stage.PILOT, Stage.COMMISSIONED, Stage.CLOSED)):
        [event] = p.move_to(stage, f"to {stage}", T0 + timedelta(days=day + 1))
        assert event.model_dump()["to_stage"] == stage
    assert [h.to_stage for h in p.history] == [
        Stage.PROPOSED,
        Stage.CO_PLANNING,
        Stage.PILOT,
        Stage.COMMISSIONED,
        Stage.CLOSED,
    ]
    assert p.history[1].note == "to co-planning"
    assert [h.at for h in p.history] == [T0 + timedelta(days=d) for d in range(5)]
    assert p.version == 5


@pytest.mark.parametrize(
    ("start", "target"), [(s, t) for s in Stage for t in Stage if t not in STAGE_MOVES[s]]
)
def test_illegal_stage_moves_are_refused_with_the_reason(start: Stage, target: Stage) -> None:
    p = partnership()
    p.stage = start
    with pytest.raises(DomainError) as refused:
        p.move_to(target, "", T0)
    assert f"cannot move from {start} to {target}" in str(refused.value)
    assert refused.value.field == "to_stage"


def test_declining_is_possible_from_every_live_stage_and_ends_it() -> None:
    for stage in (Stage.PROPOSED, Stage.CO_PLANNING, Stage.PILOT, Stage.COMMISSIONED):
        p = partnership()
        p.stage = stage
        p.move_to(Stage.DECLINED, "", T0)
        with pytest.raises(DomainError, match="has ended"):
            p.contribute(CHARITY.id, "money", "x", 1, T0)


def test_only_public_bodies_post_needs() -> None:
    details = NeedDetails(title="Befriending", description="Befriending")
    with pytest.raises(DomainError) as refused:
        Need.post("need-2", CHARITY, details, T0)
    assert refused.value.field == "commissioner_id"


def test_a_need_budget_range_must_be_ordered() -> None:
    details = NeedDetails(title="T", description="D", budget_min_gbp=10, budget_max_gbp=5)
    with pytest.raises(DomainError) as refused:
        Need.post("need-3", COUNCIL, details, T0)
    assert refused.value.field == "budget_min_gbp"


def test_a_closed_need_is_final() -> None:
    n = need()
    [closed] = n.move_to(NeedStatus.CLOSED, T0)
    assert closed.event_type == "need.closed"
    with pytest.raises(DomainError):
        n.move_to(NeedStatus.OPEN, T0)
    with pytest.raises(DomainError, match="closed"):
        Partnership.propose("psp-2", n, [CHARITY], RouteAnswers(), "", T0)


def test_partners_must_include_the_third_sector_and_no_public_body() -> None:
    with pytest.raises(DomainError, match="only join a consortium"):
        partnership(FIRM)
    with pytest.raises(DomainError, match="public body"):
        partnership(CHARITY, COUNCIL)
    with pytest.raises(DomainError, match="twice"):
        partnership(CHARITY, CHARITY)
    consortium = partnership(CHARITY, FIRM)
    assert consortium.partner_ids == [CHARITY.id, FIRM.id]


def test_the_ledger_is_two_sided_and_each_line_is_an_event() -> None:
    p = partnership()
    [line] = p.contribute(CHARITY.id, "in_kind", "volunteers", 0, T0)
    assert isinstance(line, ContributionRecorded)
    assert (line.party_id, line.form, line.description, line.recorded_at) == (
        CHARITY.id,
        "in_kind",
        "volunteers",
        T0,
    )
    assert (line.commissioner_id, line.partner_ids) == (COUNCIL.id, [CHARITY.id])
    assert not Ledger.of(p).co_financed  # only the third sector gives so far
    p.contribute(COUNCIL.id, "money", "grant", 40_000, T0)
    ledger = Ledger.of(p)
    assert ledger.co_financed
    council = next(t for t in ledger.parties if t.party_id == COUNCIL.id)
    assert (council.side, council.money_gbp, council.in_kind_gbp) == ("public", 40_000, 0)
    with pytest.raises(DomainError) as refused:
        p.contribute("GB-CHC-1", "money", "x", 1, T0)
    assert refused.value.field == "party_id"
    assert p.version == 3  # proposed, then two lines: the refused one changed nothing


def test_outcomes_are_recorded_over_time_once_the_partnership_is_under_way() -> None:
    p = partnership()
    outcomes = OutcomeMetrics(
        people_served=120, cost_savings_gbp=5000, quality_measures={"wellbeing": 0.8}
    )
    with pytest.raises(DomainError):
        p.record_outcomes(outcomes, T0)
    p.move_to(Stage.CO_PLANNING, "", T0)
    [first] = p.record_outcomes(outcomes, T0)
    assert isinstance(first, OutcomesRecorded)
    assert (first.people_served, first.quality_measures) == (120, {"wellbeing": 0.8})
    later = OutcomeMetrics(people_served=300)
    p.record_outcomes(later, T0 + timedelta(days=90))
    assert p.outcomes == later
    assert [(r.metrics.people_served, r.recorded_at) for r in p.outcome_history] == [
        (120, T0),
        (300, T0 + timedelta(days=90)),
    ]


def test_a_route_recheck_is_an_event_naming_what_is_still_open() -> None:
    p = partnership()
    answers = RouteAnswers(capable_providers=True, committed_commissioner=True)
    [checked] = p.recheck_route(answers, [CHARITY], T0)
    assert isinstance(checked, RouteChecked)
    assert p.route_check is not None
    assert checked.recommendation == p.route_check.recommendation
    assert "Can the partnership succeed (common interest, equal treatment, trust)?" in (
        checked.missing
    )
    assert checked.checked_at == T0 and p.version == 2


def test_a_stale_version_is_refused() -> None:
    o = org("GB-CHC-1000003", OrgKind.CHARITY)
    o.expect(1)
    with pytest.raises(StaleVersion, match="version 1"):
        o.expect(0)


def test_an_unchanged_profile_raises_no_event() -> None:
    o = org("GB-CHC-1000003", OrgKind.CHARITY, "Same")
    assert o.update(OrganisationProfile(name="Same", kind=OrgKind.CHARITY), T0) == []
    assert o.version == 1
    [event] = o.update(OrganisationProfile(name="Renamed", kind=OrgKind.CHARITY), T0)
    assert event.event_type == "organisation.updated"
    assert o.version == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("kind", "government"),
        ("website", "not a url"),
        ("languages", ["English"]),
    ],
)
def test_profile_validation_names_the_field(field: str, value: object) -> None:
    data: dict[str, object] = {"name": "Ok", "kind": "charity", field: value}
    with pytest.raises(ValidationError) as invalid:
        OrganisationProfile.model_validate(data)
    assert invalid.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize(
    "org_id", ["GB-CHC-1000003", "GB-SC-SC012345", "GB-NIC-100012", "GB-COH-01234567"]
)
def test_org_id_schemes_are_accepted(org_id: str) -> None:
    profile = OrganisationProfile(name="x", kind=OrgKind.CHARITY)
    assert Organisation.register(org_id, profile, T0)[0].id == org_id


@pytest.mark.parametrize("org_id", ["1000003", "gb-chc-1", "GB CHC 1", ""])
def test_malformed_identifiers_are_refused(org_id: str) -> None:
    with pytest.raises(ValidationError):
        Organisation.register(org_id, OrganisationProfile(name="x", kind=OrgKind.CHARITY), T0)
