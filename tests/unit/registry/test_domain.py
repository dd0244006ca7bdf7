"""Registry domain rules: stage machine, needs, partners, ledger, optimistic versions."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pspx.errors import DomainError, StaleVersion
from pspx.events.registry import NeedDetails, NeedStatus, OrganisationProfile, OrgKind, Stage
from services.registry.domain import (
    STAGE_MOVES,
    Contribution,
    Ledger,
    Need,
    Organisation,
    OutcomeMetrics,
    Partnership,
)
from services.registry.route import RouteAnswers


def org(org_id: str, kind: OrgKind, name: str = "An organisation") -> Organisation:
    return Organisation.register(org_id, OrganisationProfile(name=name, kind=kind))[0]


COUNCIL = org("GB-LAS-FIF", OrgKind.PUBLIC_BODY, "Fife Council")
CHARITY = org("GB-SC-SC012345", OrgKind.CHARITY, "Befrienders")
FIRM = org("GB-COH-01234567", OrgKind.PRIVATE, "Logistics Ltd")


def need() -> Need:
    details = NeedDetails(title="Befriending", description="Befriending for older people")
    return Need.post("need-1", COUNCIL, details)[0]


def partnership(*partners: Organisation) -> Partnership:
    return Partnership.propose("psp-1", need(), list(partners or (CHARITY,)), RouteAnswers())[0]


def test_the_psp_path_runs_proposed_to_closed_with_dated_history() -> None:
    p = partnership()
    for stage in (Stage.CO_PLANNING, Stage.PILOT, Stage.COMMISSIONED, Stage.CLOSED):
        [event] = p.move_to(stage, note=f"to {stage}")
        assert event.model_dump()["to_stage"] == stage
    assert [h.to_stage for h in p.history] == [
        Stage.PROPOSED,
        Stage.CO_PLANNING,
        Stage.PILOT,
        Stage.COMMISSIONED,
        Stage.CLOSED,
    ]
    assert p.history[1].note == "to co-planning"
    assert p.version == 5


@pytest.mark.parametrize(
    ("start", "target"), [(s, t) for s in Stage for t in Stage if t not in STAGE_MOVES[s]]
)
def test_illegal_stage_moves_are_refused_with_the_reason(start: Stage, target: Stage) -> None:
    p = partnership()
    p.stage = start
    with pytest.raises(DomainError) as refused:
        p.move_to(target)
    assert f"cannot move from {start} to {target}" in str(refused.value)
    assert refused.value.field == "to_stage"


def test_declining_is_possible_from_every_live_stage_and_ends_it() -> None:
    for stage in (Stage.PROPOSED, Stage.CO_PLANNING, Stage.PILOT, Stage.COMMISSIONED):
        p = partnership()
        p.stage = stage
        p.move_to(Stage.DECLINED)
        with pytest.raises(DomainError, match="has ended"):
            p.contribute(
                Contribution(party_id=CHARITY.id, form="money", description="x", value_gbp=1)
            )


def test_only_public_bodies_post_needs() -> None:
    details = NeedDetails(title="Befriending", description="Befriending")
    with pytest.raises(DomainError) as refused:
        Need.post("need-2", CHARITY, details)
    assert refused.value.field == "commissioner_id"


def test_a_need_budget_range_must_be_ordered() -> None:
    details = NeedDetails(title="T", description="D", budget_min_gbp=10, budget_max_gbp=5)
    with pytest.raises(DomainError) as refused:
        Need.post("need-3", COUNCIL, details)
    assert refused.value.field == "budget_min_gbp"


def test_a_closed_need_is_final() -> None:
    n = need()
    [closed] = n.move_to(NeedStatus.CLOSED)
    assert closed.event_type == "need.closed"
    with pytest.raises(DomainError):
        n.move_to(NeedStatus.OPEN)
    with pytest.raises(DomainError, match="closed"):
        Partnership.propose("psp-2", n, [CHARITY], RouteAnswers())


def test_partners_must_include_the_third_sector_and_no_public_body() -> None:
    with pytest.raises(DomainError, match="only join a consortium"):
        partnership(FIRM)
    with pytest.raises(DomainError, match="public body"):
        partnership(CHARITY, COUNCIL)
    with pytest.raises(DomainError, match="twice"):
        partnership(CHARITY, CHARITY)
    consortium = partnership(CHARITY, FIRM)
    assert consortium.partner_ids == [CHARITY.id, FIRM.id]


def test_the_ledger_is_two_sided() -> None:
    p = partnership()
    p.contribute(
        Contribution(party_id=CHARITY.id, form="in_kind", description="volunteers", value_gbp=0)
    )
    assert not Ledger.of(p).co_financed  # only the third sector gives so far
    p.contribute(
        Contribution(party_id=COUNCIL.id, form="money", description="grant", value_gbp=40_000)
    )
    ledger = Ledger.of(p)
    assert ledger.co_financed
    council = next(t for t in ledger.parties if t.party_id == COUNCIL.id)
    assert (council.side, council.money_gbp, council.in_kind_gbp) == ("public", 40_000, 0)
    with pytest.raises(DomainError) as refused:
        p.contribute(Contribution(party_id="GB-CHC-1", form="money", description="x", value_gbp=1))
    assert refused.value.field == "party_id"


def test_outcomes_are_recorded_once_the_partnership_is_under_way() -> None:
    p = partnership()
    outcomes = OutcomeMetrics(
        people_served=120, cost_savings_gbp=5000, quality_measures={"wellbeing": 0.8}
    )
    with pytest.raises(DomainError):
        p.record_outcomes(outcomes)
    p.move_to(Stage.CO_PLANNING)
    p.record_outcomes(outcomes)
    assert p.outcomes.people_served == 120


def test_a_stale_version_is_refused() -> None:
    o = org("GB-CHC-1000003", OrgKind.CHARITY)
    o.expect(1)
    with pytest.raises(StaleVersion, match="version 1"):
        o.expect(0)


def test_an_unchanged_profile_raises_no_event() -> None:
    o = org("GB-CHC-1000003", OrgKind.CHARITY, "Same")
    assert o.update(OrganisationProfile(name="Same", kind=OrgKind.CHARITY)) == []
    assert o.version == 1
    [event] = o.update(OrganisationProfile(name="Renamed", kind=OrgKind.CHARITY))
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
    assert (
        Organisation(id=org_id, profile=OrganisationProfile(name="x", kind="charity")).id == org_id
    )


@pytest.mark.parametrize("org_id", ["1000003", "gb-chc-1", "GB CHC 1", ""])
def test_malformed_identifiers_are_refused(org_id: str) -> None:
    with pytest.raises(ValidationError):
        Organisation(id=org_id, profile=OrganisationProfile(name="x", kind="charity"))
