"""Needs: a commissioner posts one and watches its shortlist fill in, then proposes a
partnership from it; a partner organisation sees the needs that fit it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.web.pages import live, session
from gateway.web.pages.graphql import PROBLEM, ask, problems_by_field
from gateway.web.pages.render import N_, page

OWN_NEEDS = """
query Own($org: [String!]) {
  needs(first: 50, commissionerId: $org) {
    edges { node { needId title status postedAt regions serviceArea } }
  }
}"""

FITS = """
{ needsThatFit(first: 50) { needId title rank score reasons { term }
    need { commissioner { name } regions serviceArea deadline } } }"""

NEED = """
query Need($id: String!) {
  need(needId: $id) {
    needId version title description status serviceArea regions outcomes budgetMinGbp
    budgetMaxGbp durationMonths inKind deadline postedAt commissionerId
    commissioner { name }
  }
}"""

SHORTLIST = """
query Shortlist($id: String!) {
  need(needId: $id) {
    partners(first: 20) { rank partnerId name score reasons { term } partner { kind regions } }
  }
}"""

POST = f"""
mutation Post($details: NeedInput!) {{
  postNeed(details: $details) {{ {PROBLEM} ... on Need {{ needId }} }}
}}"""

PROPOSE = """
mutation Propose($need: String!, $partners: [String!]!, $note: String!) {
  proposePartnership(needId: $need, partnerIds: $partners, note: $note) {
    __typename
    ... on Partnership { partnershipId }
    ... on Problem { message }
  }
}"""

MATCHES = """
subscription Matches($need: String!, $after: String) {
  matchFound(needId: $need, after: $after) { partnerId score }
}"""

NEED_FITS = "subscription Fits($after: String) { needFits(after: $after) { needId score } }"

# The form's fields, in the order the error summary lists them.
FIELDS = ("title", "description", "outcomes", "regions", "service_area", "budget_max", "deadline")
WHOLE_POUNDS = N_("Enter the budget as a whole number of pounds, like 50000")


async def needs(request: Request) -> Response:
    signed_in = session.user(request)
    if signed_in is None:
        return RedirectResponse("/sign-in?next=/needs", status_code=303)
    if signed_in.role == "partner":
        fits = (await ask(request, FITS))["needsThatFit"]
        return page(request, "needs_fit.html", fits=fits, since=live.since(request))
    org = None if signed_in.role == "operator" else [signed_in.org_id]
    found = await ask(request, OWN_NEEDS, org=org)
    return page(request, "needs.html", needs=[e["node"] for e in found["needs"]["edges"]])


async def new_need(request: Request) -> Response:
    return page(request, "need_form.html", values={}, errors={}, csrf=session.csrf_token(request))


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _details(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The NeedInput a form describes, and the problems the page can tell without asking."""
    errors: dict[str, str] = {}
    details: dict[str, Any] = {
        "title": str(fields.get("title", "")).strip(),
        "description": str(fields.get("description", "")).strip(),
        "outcomes": _lines(str(fields.get("outcomes", ""))),
        "regions": _lines(str(fields.get("regions", ""))),
        "serviceArea": str(fields.get("service_area", "")).strip() or None,
    }
    budget = str(fields.get("budget_max", "")).replace(",", "").replace("£", "").strip()
    if budget:
        if budget.isdigit():
            details["budgetMaxGbp"] = int(budget)
        else:
            errors["budget_max"] = WHOLE_POUNDS
    deadline = str(fields.get("deadline", "")).strip()
    if deadline:
        details["deadline"] = deadline
    return details, errors


# The service names a field by its path in the command; the form by its own name.
FORM_FIELD = {"serviceArea": "service_area", "service_area": "service_area"}
FORM_FIELD |= {"budgetMaxGbp": "budget_max", "budget_max_gbp": "budget_max"}


async def post_need(request: Request) -> Response:
    fields = await session.form(request)
    details, errors = _details(fields)
    if not details["title"]:
        errors["title"] = N_("Enter a title for the need")
    if not details["description"]:
        errors["description"] = N_("Describe the service you need")
    if not errors:
        answer = (await ask(request, POST, details=details))["postNeed"]
        if answer["__typename"] == "Need":
            return RedirectResponse(f"/needs/{answer['needId']}", status_code=303)
        errors = problems_by_field(answer, FIELDS, FORM_FIELD)
    return page(
        request,
        "need_form.html",
        status=422,
        values=fields,
        errors={name: errors[name] for name in FIELDS if name in errors},
        csrf=session.csrf_token(request),
    )


async def _need_page(
    request: Request, need_id: str, error: str | None = None, status: int = 200
) -> Response:
    found = (await ask(request, NEED, id=need_id))["need"]
    if found is None:
        return page(request, "not_found.html", status=404)
    signed_in = session.user(request)
    shortlist = None
    if signed_in and (signed_in.role == "operator" or signed_in.org_id == found["commissionerId"]):
        shortlist = (await ask(request, SHORTLIST, id=need_id))["need"]["partners"]
    return page(
        request,
        "need.html",
        status=status,
        need=found,
        shortlist=shortlist,
        since=live.since(request),
        csrf=session.csrf_token(request),
        error=error,
    )


async def need(request: Request) -> Response:
    return await _need_page(request, request.path_params["need_id"])


async def propose(request: Request) -> Response:
    need_id = request.path_params["need_id"]
    fields = await session.form(request)
    chosen = fields.get("partner", [])
    partners = chosen if isinstance(chosen, list) else [chosen]
    error = N_("Choose at least one partner") if not partners else None
    if error is None:
        answer = (
            await ask(
                request, PROPOSE, need=need_id, partners=partners, note=fields.get("note", "")
            )
        )["proposePartnership"]
        if answer["__typename"] == "Partnership":
            return RedirectResponse(f"/partnerships/{answer['partnershipId']}", status_code=303)
        error = answer["message"]
    return await _need_page(request, need_id, error=error, status=422)


async def need_live(request: Request) -> Response:
    need_id = request.path_params["need_id"]
    return await live.stream(request, MATCHES, need=need_id, after=live.after(request))


async def fits_live(request: Request) -> Response:
    return await live.stream(request, NEED_FITS, after=live.after(request))
