"""The VSOPP / PSP route check advises with a reason for every criterion."""

from __future__ import annotations

from datetime import UTC, datetime

from pspx.events.registry import OrganisationProfile, OrgKind
from services.registry.route import (
    CRITERIA,
    DISCLAIMER,
    Recommendation,
    RouteAnswers,
    RouteCheck,
    check_route,
)

AT = datetime(2026, 11, 1, tzinfo=UTC)
VSOPP_YES: dict[str, bool] = dict(
    initiated_by_organisation=True,
    realises_public_programme=True,
    no_market=True,
    both_contribute=True,
    authority_not_regulating_detail=True,
    several_providers=False,
    organisation_makes_profit=False,
)
PSP_YES: dict[str, bool] = dict(
    capable_providers=True, committed_commissioner=True, partnership_potential=True
)


def check(*partners: OrganisationProfile, **answers: bool) -> RouteCheck:
    return check_route(RouteAnswers.model_validate(answers), partners=list(partners), at=AT)


def test_all_five_vsopp_criteria_recommend_a_partnership() -> None:
    result = check(**VSOPP_YES)
    assert result.recommendation is Recommendation.PARTNERSHIP
    assert result.missing == [c.question for c in CRITERIA if c.framework == "PSP"]
    assert result.disclaimer == DISCLAIMER and "not legal advice" in result.disclaimer


def test_a_market_sends_the_vsopp_to_psp_co_planning_with_the_reason() -> None:
    result = check(**{**VSOPP_YES, "no_market": False}, **PSP_YES)
    assert result.recommendation is Recommendation.PSP_CO_PLANNING
    market = next(c for c in result.criteria if c.code == "no_market")
    assert not market.met and "market exists" in market.reason.lower()
    assert "tender" in result.summary


def test_several_providers_or_profit_means_no_vsopp() -> None:
    assert check(**{**VSOPP_YES, "several_providers": True}).recommendation is (
        Recommendation.COMPETITIVE_PROCUREMENT
    )
    assert check(**{**VSOPP_YES, "organisation_makes_profit": True}).recommendation is (
        Recommendation.COMPETITIVE_PROCUREMENT
    )


def test_a_private_partner_is_taken_as_profit_making() -> None:
    firm = OrganisationProfile(name="Firm Ltd", kind=OrgKind.PRIVATE)
    result = check(firm, **{k: v for k, v in VSOPP_YES.items() if k != "organisation_makes_profit"})
    profit = next(c for c in result.criteria if c.code == "organisation_makes_profit")
    assert profit.answer is True and not profit.met
    assert result.recommendation is not Recommendation.PARTNERSHIP


def test_nothing_answered_recommends_procurement_and_lists_every_question() -> None:
    result = check()
    assert result.recommendation is Recommendation.COMPETITIVE_PROCUREMENT
    assert len(result.missing) == len(CRITERIA)
    assert all(c.reason.startswith("Not answered yet") for c in result.criteria)


def test_every_criterion_has_a_reason() -> None:
    result = check(**VSOPP_YES, **PSP_YES)
    assert {c.code for c in result.criteria} == {c.code for c in CRITERIA}
    assert all(c.reason and c.met for c in result.criteria)
