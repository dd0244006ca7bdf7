"""Partnerships: a board by stage, and each partnership's page: its dated stage history and
the move to its next stage, the route check answered as a form, the two-sided ledger of
contributions and the outcome metrics over time, each drawn as a chart beside its table."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.schema.errors import camel
from gateway.web.pages import session
from gateway.web.pages.charts import (
    SIDES,
    ledger_chart,
    number,
    outcome_charts,
    outcome_table,
    side_totals,
)
from gateway.web.pages.graphql import PROBLEM, ask
from gateway.web.pages.render import N_, page

STAGES = {
    "PROPOSED": N_("Proposed"),
    "CO_PLANNING": N_("Co-planning"),
    "PILOT": N_("Pilot"),
    "COMMISSIONED": N_("Commissioned"),
    "CLOSED": N_("Closed"),
    "DECLINED": N_("Declined"),
}
# The way a partnership goes when it goes well; any stage before the end may also decline.
NEXT = {"PROPOSED": "CO_PLANNING", "CO_PLANNING": "PILOT", "PILOT": "COMMISSIONED"}
NEXT["COMMISSIONED"] = "CLOSED"
# The registry takes no route check or contribution once a partnership has ended, and no
# outcomes before it is under way.
ENDED = {"CLOSED", "DECLINED"}
NO_OUTCOMES = {"PROPOSED", "DECLINED"}

# The route check's questions (RouteAnswersInput), put short and plain; the service's own
# wording and its reason for each answer are shown beside them.
QUESTIONS = {
    "initiated_by_organisation": N_("Did the voluntary organisation start this activity?"),
    "realises_public_programme": N_(
        "Does a public programme or plan name organisations like this?"
    ),
    "no_market": N_("Is there no market or competition for this service?"),
    "both_contribute": N_("Do both sides put something in, money or in kind?"),
    "authority_not_regulating_detail": N_(
        "Will the public body leave the detail of the work to the organisation?"
    ),
    "several_providers": N_("Do several providers offer this activity?"),
    "organisation_makes_profit": N_("Does the organisation make a profit from it?"),
    "capable_providers": N_("Are there third-sector providers able to deliver it?"),
    "committed_commissioner": N_("Is a commissioner committed to it?"),
    "partnership_potential": N_(
        "Can the parties work as equals, with a shared interest and trust?"
    ),
}
ANSWERS = {"yes": True, "no": False, "unknown": None}
RECOMMENDATIONS = {
    "PARTNERSHIP": N_("A partnership without procurement (IOP)"),
    "PSP_CO_PLANNING": N_("Co-plan and pilot as a Public Social Partnership"),
    "COMPETITIVE_PROCUREMENT": N_("Competitive procurement"),
}
FORMS_OF_CONTRIBUTION = {"money": N_("Money"), "in_kind": N_("In kind")}

# GraphQL's Int is a signed 32-bit number, whatever the service would take.
LARGEST_INT = 2**31 - 1
MOST_PEOPLE = 10**9  # OutcomesInput.peopleServed
WHOLE_POUNDS = N_("Enter the value as a whole number of pounds, like 50000")
TOO_MANY_POUNDS = N_("Enter a value of at most £2,147,483,647")
SAVINGS_POUNDS = N_("Enter the cost savings as a whole number of pounds, like 50000")
TOO_MANY_SAVINGS = N_("Enter cost savings of at most £2,147,483,647")
PEOPLE_COUNT = N_("Enter the number of people served as a whole number, like 120")
MEASURE_LINE = N_("Write each measure on a line of its own: a name, a colon and a number")
STALE = N_(
    "The partnership changed while you had this page open. Check the page and send it again."
)

BOARD = """
{ partnerships(first: 100) { edges { node {
    partnershipId stage need { title } commissioner { name } partners { name } } } } }"""

PARTNERSHIP = """
query Partnership($id: String!) {
  partnership(partnershipId: $id) {
    partnershipId version stage needId commissionerId partnerIds need { title }
    commissioner { orgId name }
    partners { orgId name }
    history { fromStage toStage at note }
    routeCheck {
      recommendation summary notes disclaimer checkedAt
      criteria { code framework question answer met reason }
    }
    contributions { partyId form description valueGbp recordedAt }
    ledger { coFinanced parties { partyId side moneyGbp inKindGbp } }
    outcomes { peopleServed costSavingsGbp qualityMeasures { name value } recordedAt }
    outcomeHistory { peopleServed costSavingsGbp qualityMeasures { name value } recordedAt }
  }
}"""

# Every mutation answers the partnership or one of the typed problems.
PROBLEMS = f"{PROBLEM} ... on Refused {{ field }}"

MOVE = f"""
mutation Move($id: String!, $version: Int!, $stage: Stage!, $note: String!) {{
  movePartnership(partnershipId: $id, expectedVersion: $version, toStage: $stage, note: $note) {{
    {PROBLEMS}
  }}
}}"""

RECHECK = f"""
mutation Recheck($id: String!, $version: Int!, $answers: RouteAnswersInput!) {{
  recheckRoute(partnershipId: $id, expectedVersion: $version, answers: $answers) {{
    {PROBLEMS}
  }}
}}"""

CONTRIBUTE = f"""
mutation Contribute($id: String!, $version: Int!, $contribution: ContributionInput!) {{
  addContribution(partnershipId: $id, expectedVersion: $version, contribution: $contribution) {{
    {PROBLEMS}
  }}
}}"""

RECORD = f"""
mutation Record($id: String!, $version: Int!, $outcomes: OutcomesInput!) {{
  recordOutcomes(partnershipId: $id, expectedVersion: $version, outcomes: $outcomes) {{
    {PROBLEMS}
  }}
}}"""


@dataclass(frozen=True)
class Form:
    """One of the page's forms: its fields in page order (the first takes a problem that
    names none), and the form field each of the service's field names belongs to."""

    fields: tuple[str, ...]
    by_service_name: dict[str, str]

    def field(self, path: str) -> str:
        """The form field a service's field path (``contribution.valueGbp``) is about."""
        named = (self.by_service_name[p] for p in path.split(".") if p in self.by_service_name)
        return next(named, self.fields[0])


MOVE_FORM = Form(("note",), {"note": "note"})
ROUTE_FORM = Form(
    (*QUESTIONS, "route_notes"), {camel(q): q for q in QUESTIONS} | {"notes": "route_notes"}
)
CONTRIBUTION_FORM = Form(
    ("contribution_form", "contribution_description", "contribution_value"),
    {
        "form": "contribution_form",
        "description": "contribution_description",
        "valueGbp": "contribution_value",
    },
)
OUTCOMES_FORM = Form(
    ("people_served", "cost_savings", "quality_measures"),
    {
        "peopleServed": "people_served",
        "costSavingsGbp": "cost_savings",
        "qualityMeasures": "quality_measures",
    },
)


# -- reading what a form says ---------------------------------------------------------------

POUNDS = re.compile(r"£?\s*(\d{1,3}(?:,\d{3})+|\d+)", re.ASCII)
COUNT = re.compile(r"\d{1,3}(?:,\d{3})+|\d+", re.ASCII)
MEASURE = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


def pounds(text: str) -> int | None:
    """Whole pounds as people write them ("£50,000", "50000"), or None for anything else."""
    found = POUNDS.fullmatch(text.strip())
    return int(found.group(1).replace(",", "")) if found else None


def count(text: str) -> int | None:
    """A whole number as people write it ("1,200", "1200"), or None for anything else."""
    found = COUNT.fullmatch(text.strip())
    return int(found.group(0).replace(",", "")) if found else None


def measures(text: str) -> list[dict[str, Any]] | None:
    """Quality measures written one a line as "name: number", or None if a line is not.
    A comma is no decimal point here: "4,5" would be 45 to some readers and 4.5 to others."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, number = line.rpartition(":")
        if not colon or not name.strip() or not MEASURE.fullmatch(number.strip()):
            return None
        value = float(number)
        if not math.isfinite(value):  # more digits than a float holds
            return None
        found.append({"name": name.strip(), "value": value})
    return found


def _one(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return str(value[-1] if isinstance(value, list) else value)


def _version(fields: dict[str, Any]) -> int | None:
    text = _one(fields, "version")
    return int(text) if re.fullmatch(r"\d{1,9}", text, re.ASCII) else None


def route_answers(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The RouteAnswersInput a form describes (a question not known is null), and the
    problems the page can tell without asking."""
    answers: dict[str, Any] = {"notes": _one(fields, "route_notes").strip()}
    errors: dict[str, str] = {}
    for code in QUESTIONS:
        chosen = _one(fields, code) or "unknown"
        if chosen in ANSWERS:
            answers[camel(code)] = ANSWERS[chosen]
        else:
            errors[code] = N_("Choose yes, no or not known")
    return answers, errors


def contribution(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The ContributionInput a form describes, and the problems the page can tell."""
    errors: dict[str, str] = {}
    form = _one(fields, "contribution_form")
    if form not in FORMS_OF_CONTRIBUTION:
        errors["contribution_form"] = N_("Choose money or in kind")
    description = _one(fields, "contribution_description").strip()
    if not description:
        errors["contribution_description"] = N_("Say what the contribution is")
    value = pounds(_one(fields, "contribution_value"))
    if value is None:
        errors["contribution_value"] = WHOLE_POUNDS
    elif value > LARGEST_INT:
        errors["contribution_value"] = TOO_MANY_POUNDS
    return {"form": form, "description": description, "valueGbp": value}, errors


def outcomes(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The OutcomesInput a form describes (a measure left empty is not recorded), and the
    problems the page can tell."""
    errors: dict[str, str] = {}
    people_text = _one(fields, "people_served").strip()
    people = count(people_text) if people_text else None
    if people_text and people is None:
        errors["people_served"] = PEOPLE_COUNT
    elif people is not None and people > MOST_PEOPLE:
        errors["people_served"] = N_("Enter at most 1,000,000,000 people served")
    savings_text = _one(fields, "cost_savings").strip()
    savings = pounds(savings_text) if savings_text else None
    if savings_text and savings is None:
        errors["cost_savings"] = SAVINGS_POUNDS
    elif savings is not None and savings > LARGEST_INT:
        errors["cost_savings"] = TOO_MANY_SAVINGS
    quality = measures(_one(fields, "quality_measures"))
    if quality is None:
        errors["quality_measures"] = MEASURE_LINE
    elif len({m["name"] for m in quality}) != len(quality):
        errors["quality_measures"] = N_("Name each measure once")
    if not (people_text or savings_text or quality or errors):
        errors["people_served"] = N_("Enter at least one measure")
    found = {"peopleServed": people, "costSavingsGbp": savings, "qualityMeasures": quality or []}
    return found, errors


def problems(answer: dict[str, Any], form: Form) -> dict[str, str]:
    """A mutation's typed problem as messages by form field: a problem that names no field
    of the form goes to its first."""
    errors: dict[str, str] = {}
    kind = answer["__typename"]
    if kind == "InvalidInput":
        for wrong in answer["fields"]:
            errors.setdefault(form.field(wrong["field"]), wrong["problem"])
    if kind == "Refused":
        errors[form.field(answer.get("field") or "")] = answer["message"]
    if not errors:
        errors[form.fields[0]] = STALE if kind == "StaleVersion" else answer["message"]
    return errors


# -- the tables and charts ------------------------------------------------------------------


def _defaults(found: dict[str, Any]) -> dict[str, str]:
    """What the forms start with: the route check's answers and the latest outcomes."""
    criteria = (found["routeCheck"] or {}).get("criteria", [])
    shown = {True: "yes", False: "no", None: "unknown"}
    values = {code: "unknown" for code in QUESTIONS}
    values |= {c["code"]: shown[c["answer"]] for c in criteria if c["code"] in QUESTIONS}
    values["route_notes"] = (found["routeCheck"] or {}).get("notes", "")
    latest = found["outcomes"]
    if latest["peopleServed"] is not None:
        values["people_served"] = str(latest["peopleServed"])
    if latest["costSavingsGbp"] is not None:
        values["cost_savings"] = str(latest["costSavingsGbp"])
    values["quality_measures"] = "\n".join(
        f"{m['name']}: {number(m['value'])}" for m in latest["qualityMeasures"]
    )
    return values


async def board(request: Request) -> Response:
    if session.user(request) is None:
        return RedirectResponse("/sign-in?next=/partnerships", status_code=303)
    edges = (await ask(request, BOARD))["partnerships"]["edges"]
    columns = {stage: [e["node"] for e in edges if e["node"]["stage"] == stage] for stage in STAGES}
    return page(request, "partnerships.html", columns=columns, stages=STAGES)


async def partnership(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The partnership's page; after a form's problem, with what was typed into it."""
    found = (await ask(request, PARTNERSHIP, id=request.path_params["partnership_id"]))[
        "partnership"
    ]
    if found is None:
        return page(request, "not_found.html", status=404)
    signed_in = session.user(request)
    parties = {found["commissionerId"], *found["partnerIds"]}
    acting_for = signed_in.org_id if signed_in and signed_in.org_id in parties else None
    organisations = [o for o in [found["commissioner"], *found["partners"]] if o]
    names = {o["orgId"]: o["name"] for o in organisations}
    sides = side_totals(found["ledger"]["parties"])
    history = found["outcomeHistory"]
    return page(
        request,
        "partnership.html",
        status=status,
        p=found,
        stages=STAGES,
        next_stage=NEXT.get(found["stage"]),
        acting_for=acting_for,
        acting_side="public" if acting_for == found["commissionerId"] else "third_sector",
        ended=found["stage"] in ENDED,
        records_outcomes=found["stage"] not in NO_OUTCOMES,
        names=names,
        questions=QUESTIONS,
        recommendations=RECOMMENDATIONS,
        sides=sides,
        side_names=SIDES,
        forms_of_contribution=FORMS_OF_CONTRIBUTION,
        ledger_chart=ledger_chart(sides),
        outcome_table=outcome_table(history),
        outcome_charts=outcome_charts(history),
        values=_defaults(found) | (values or {}),
        errors=errors or {},
        csrf=session.csrf_token(request),
    )


async def _command(
    request: Request,
    document: str,
    form: Form,
    fields: dict[str, Any],
    errors: dict[str, str],
    section: str,
    **variables: Any,
) -> Response:
    """Carry out a mutation the form describes, unless the page already found a problem
    with it; back to the page's section on success, else to the form with its problems."""
    partnership_id = request.path_params["partnership_id"]
    version = _version(fields)
    if version is None:
        errors.setdefault(form.fields[0], STALE)
    if not errors:
        answers = await ask(request, document, id=partnership_id, version=version, **variables)
        answer = next(iter(answers.values()))
        if answer["__typename"] == "Partnership":
            return RedirectResponse(f"/partnerships/{partnership_id}#{section}", status_code=303)
        errors = problems(answer, form)
    typed = {name: _one(fields, name) for name in form.fields}
    ordered = {name: errors[name] for name in form.fields if name in errors}
    return await partnership(request, errors=ordered, values=typed, status=422)


async def move(request: Request) -> Response:
    fields = await session.form(request)
    stage = _one(fields, "stage")
    errors = {} if stage in STAGES else {"note": N_("Choose a stage to move to")}
    note = _one(fields, "note")
    return await _command(request, MOVE, MOVE_FORM, fields, errors, "stage", stage=stage, note=note)


async def recheck(request: Request) -> Response:
    fields = await session.form(request)
    answers, errors = route_answers(fields)
    return await _command(
        request, RECHECK, ROUTE_FORM, fields, errors, "route-check", answers=answers
    )


async def contribute(request: Request) -> Response:
    fields = await session.form(request)
    line, errors = contribution(fields)
    return await _command(
        request, CONTRIBUTE, CONTRIBUTION_FORM, fields, errors, "contributions", contribution=line
    )


async def record_outcomes(request: Request) -> Response:
    fields = await session.form(request)
    measured, errors = outcomes(fields)
    return await _command(
        request, RECORD, OUTCOMES_FORM, fields, errors, "outcomes", outcomes=measured
    )
