"""Route check for a proposed partnership: VSOPP/IOP, PSP co-planning or procurement.

It applies the five Swedish criteria for a voluntary-sector public partnership
(IOP), Malmö's two decision questions, and the Scottish "To PSP or not to PSP?"
test, and gives a reason for every criterion. It advises; it is not legal advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pspx.events.registry import OrganisationProfile, OrgKind

DISCLAIMER = (
    "This check is advice to support a decision, not legal advice. Confirm the route with "
    "your procurement and legal teams before you commit."
)


class Recommendation(StrEnum):
    PARTNERSHIP = "partnership"  # a VSOPP/IOP: no procurement
    PSP_CO_PLANNING = "psp_co_planning"
    COMPETITIVE_PROCUREMENT = "competitive_procurement"


class RouteAnswers(BaseModel):
    """The commissioner's answers; leave a question out (null) when it is not yet known."""

    model_config = ConfigDict(extra="forbid")

    initiated_by_organisation: bool | None = None
    realises_public_programme: bool | None = None
    no_market: bool | None = None
    both_contribute: bool | None = None
    authority_not_regulating_detail: bool | None = None
    several_providers: bool | None = None
    organisation_makes_profit: bool | None = None
    capable_providers: bool | None = None
    committed_commissioner: bool | None = None
    partnership_potential: bool | None = None
    notes: str = Field("", max_length=5000)


Framework = Literal["VSOPP", "Malmö", "PSP"]


@dataclass(frozen=True)
class Criterion:
    code: str
    framework: Framework
    question: str
    wanted: bool  # the answer that favours a partnership
    if_met: str
    if_not: str


CRITERIA = (
    Criterion(
        "initiated_by_organisation",
        "VSOPP",
        "Is the activity initiated by the voluntary organisation?",
        True,
        "The organisation started this activity: a partnership follows its initiative.",
        "The authority initiated it: that points to an ordinary purchase.",
    ),
    Criterion(
        "realises_public_programme",
        "VSOPP",
        "Does it realise a political programme or plan that names such organisations?",
        True,
        "A public programme or plan names such organisations, so there is a mandate.",
        "No programme or plan names such organisations: there is no mandate to partner.",
    ),
    Criterion(
        "no_market",
        "VSOPP",
        "Is there no market or competitive situation to nurture?",
        True,
        "There is no market to nurture, so a partnership distorts no competition.",
        "A market exists: partnering directly could distort competition.",
    ),
    Criterion(
        "both_contribute",
        "VSOPP",
        "Do both parties contribute, in money or in kind?",
        True,
        "Both parties co-finance the activity, as a partnership requires.",
        "Only one side contributes: that is a purchase or a grant, not a partnership.",
    ),
    Criterion(
        "authority_not_regulating_detail",
        "VSOPP",
        "Does the authority refrain from regulating the operation in detail?",
        True,
        "The organisation keeps its independence over how the work is done.",
        "The authority would regulate the work in detail, as a buyer does.",
    ),
    Criterion(
        "several_providers",
        "Malmö",
        "Are there several providers of the same activity?",
        False,
        "No other provider offers this activity.",
        "Several providers offer this activity: Malmö's rule is to procure.",
    ),
    Criterion(
        "organisation_makes_profit",
        "Malmö",
        "Does the organisation make a profit from the activity?",
        False,
        "The organisation does not make a profit from it.",
        "A profit-making provider: Malmö's rule is to procure.",
    ),
    Criterion(
        "capable_providers",
        "PSP",
        "Are there capable third-sector providers who can deliver change?",
        True,
        "Capable third-sector providers exist to co-design and deliver the service.",
        "No capable third-sector provider is in view yet.",
    ),
    Criterion(
        "committed_commissioner",
        "PSP",
        "Is there a committed commissioner?",
        True,
        "A commissioner is committed to follow the service through to commissioning.",
        "No commissioner has committed to commission the service after a pilot.",
    ),
    Criterion(
        "partnership_potential",
        "PSP",
        "Can the partnership succeed (common interest, equal treatment, trust)?",
        True,
        "The parties share an interest and can work as equals.",
        "The conditions for a working partnership are not there yet.",
    ),
)


class CriterionResult(BaseModel):
    code: str
    framework: Framework
    question: str
    answer: bool | None
    met: bool
    reason: str


class RouteCheck(BaseModel):
    recommendation: Recommendation
    summary: str
    criteria: list[CriterionResult]
    missing: list[str] = Field(description="Questions not yet answered (treated as not met)")
    notes: str = ""
    disclaimer: str = DISCLAIMER
    checked_at: datetime


def _derived(answers: RouteAnswers, partners: list[OrganisationProfile]) -> RouteAnswers:
    """Fill what the partners' own records already answer."""
    if answers.organisation_makes_profit is None and partners:
        if any(p.kind is OrgKind.PRIVATE for p in partners):
            return answers.model_copy(update={"organisation_makes_profit": True})
    return answers


def check_route(
    answers: RouteAnswers, *, partners: list[OrganisationProfile], at: datetime
) -> RouteCheck:
    answers = _derived(answers, partners)
    results = []
    for c in CRITERIA:
        answer: bool | None = getattr(answers, c.code)
        met = answer is not None and answer == c.wanted
        if answer is None:
            reason = f"Not answered yet: {c.if_met[0].lower()}{c.if_met[1:]} must be shown."
        else:
            reason = c.if_met if met else c.if_not
        results.append(
            CriterionResult(
                code=c.code,
                framework=c.framework,
                question=c.question,
                answer=answer,
                met=met,
                reason=reason,
            )
        )
    met_by_code = {r.code: r.met for r in results}
    by = {fw: all(r.met for r in results if r.framework == fw) for fw in ("VSOPP", "Malmö", "PSP")}
    failed = [r.question for r in results if r.answer is not None and not r.met]
    if by["VSOPP"] and by["Malmö"]:
        recommendation = Recommendation.PARTNERSHIP
        summary = (
            "All five VSOPP criteria hold and neither Malmö question points to procurement: "
            "a voluntary-sector public partnership (IOP) fits."
        )
    elif by["PSP"]:
        recommendation = Recommendation.PSP_CO_PLANNING
        summary = "The PSP test holds: co-plan and pilot the service with the third sector."
        if not met_by_code["no_market"]:
            summary += (
                " A market exists, so expect to tender competitively at the commissioning stage."
            )
    else:
        recommendation = Recommendation.COMPETITIVE_PROCUREMENT
        summary = "Neither a VSOPP nor the PSP test holds: use competitive procurement."
    if failed:
        summary += " Not met: " + " ".join(failed)
    return RouteCheck(
        recommendation=recommendation,
        summary=summary,
        criteria=results,
        missing=[r.question for r in results if r.answer is None],
        notes=answers.notes,
        checked_at=at,
    )
