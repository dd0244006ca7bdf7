"""Find partners: a search with filters, ranked results with the reasons for each rank, a
consortium where no single partner covers the need; and an organisation's profile."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.web.pages import session
from gateway.web.pages.graphql import PROBLEM, Unanswered, ask, problems_by_field
from gateway.web.pages.render import N_, page

KINDS = ["CHARITY", "SOCIAL_ENTERPRISE", "VOLUNTARY", "COMMUNITY", "COOPERATIVE"]
# The schema's size bands: each one's name and the paid staff it stands for.
SIZES = {
    "MICRO": (N_("Micro"), N_("0 to 9 paid staff")),
    "SMALL": (N_("Small"), N_("10 to 49 paid staff")),
    "MEDIUM": (N_("Medium"), N_("50 to 249 paid staff")),
    "LARGE": (N_("Large"), N_("250 or more paid staff")),
}
RESULTS = 20

SEARCH = """
query Find($search: PartnerSearch!, $first: Int!) {
  searchPartners(search: $search, first: $first) {
    rank partnerId name score reasons { term weight } matchedFilters { name values }
    partner { orgId kind regions serviceAreas sizeBand size { staff volunteers } }
  }
  consortium(search: $search) {
    suggested reason coverage bestSingleCoverage uncovered members { partnerId name covers }
  }
}"""

PROFILE = """
query Profile($orgId: String!) {
  organisation(orgId: $orgId) {
    orgId name kind description activities serviceAreas regions languages alternateNames
    formerNames website contact { email phone } size { incomeBand staff volunteers }
    sizeBand registeredAt thirdSector
    similar(first: 5) { partnerId name score reasons { term } }
  }
}"""

# Everything an update replaces: the whole profile, as it stands.
EDITABLE = """
query Editable($orgId: String!) {
  organisation(orgId: $orgId) {
    orgId version name kind alternateNames formerNames description activities serviceAreas
    regions languages website contact { email phone } size { incomeBand staff volunteers }
  }
}"""

UPDATE = f"""
mutation Update($orgId: String!, $version: Int!, $profile: ProfileInput!) {{
  updateOrganisation(orgId: $orgId, expectedVersion: $version, profile: $profile) {{
    {PROBLEM}
  }}
}}"""

PROFILE_FIELDS = (
    "name",
    "description",
    "activities",
    "service_areas",
    "regions",
    "languages",
    "website",
    "email",
    "phone",
    "staff",
    "volunteers",
)
# The service's name for a field (its last part) to the form's.
FORM_FIELD = {"serviceAreas": "service_areas", "service_areas": "service_areas"}
WHOLE_NUMBER = N_("Enter a whole number")


def _listed(request: Request, name: str) -> list[str]:
    return [v.strip() for v in request.query_params.getlist(name) if v.strip()][:20]


async def find_partners(request: Request) -> Response:
    text = request.query_params.get("q", "").strip()
    filters = {
        "regions": _listed(request, "region"),
        "kinds": [k for k in _listed(request, "kind") if k in KINDS],
        "serviceAreas": _listed(request, "service_area"),
        "sizes": [s for s in _listed(request, "size") if s in SIZES],
    }
    found: dict[str, Any] | None = None
    error = None
    if len(text) > 2000:
        error = N_("Enter at most 2,000 characters")
    elif text:
        try:
            found = await ask(request, SEARCH, search={"text": text, **filters}, first=RESULTS)
        except Unanswered as exc:
            error = str(exc)
    elif "q" in request.query_params:
        error = N_("Enter what the partner should do")
    return page(
        request,
        "partners.html",
        status=422 if error else 200,
        text=text,
        filters=filters,
        kinds=KINDS,
        sizes=SIZES,
        found=found,
        error=error,
    )


async def organisation(request: Request) -> Response:
    found = await ask(request, PROFILE, orgId=request.path_params["org_id"])
    if found["organisation"] is None:
        return page(request, "not_found.html", status=404)
    return page(request, "organisation.html", org=found["organisation"], sizes=SIZES)


def _listed_form(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _form_values(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": org["name"],
        "description": org["description"],
        "activities": ", ".join(org["activities"]),
        "service_areas": ", ".join(org["serviceAreas"]),
        "regions": ", ".join(org["regions"]),
        "languages": ", ".join(org["languages"]),
        "website": org["website"] or "",
        "email": org["contact"]["email"] or "",
        "phone": org["contact"]["phone"] or "",
        "staff": "" if org["size"]["staff"] is None else org["size"]["staff"],
        "volunteers": "" if org["size"]["volunteers"] is None else org["size"]["volunteers"],
        "version": org["version"],
    }


def _profile(org: dict[str, Any], fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The whole profile an update sends: the form's fields over what it does not show."""
    errors: dict[str, str] = {}
    size = dict(org["size"])
    for name in ("staff", "volunteers"):
        given = str(fields.get(name, "")).replace(",", "").strip()
        if given and not given.isdigit():
            errors[name] = WHOLE_NUMBER
        size[name] = int(given) if given.isdigit() else None
    profile = {
        "name": str(fields.get("name", "")).strip(),
        "kind": org["kind"],
        "alternateNames": org["alternateNames"],
        "formerNames": org["formerNames"],
        "description": str(fields.get("description", "")).strip(),
        "activities": _listed_form(str(fields.get("activities", ""))),
        "serviceAreas": _listed_form(str(fields.get("service_areas", ""))),
        "regions": _listed_form(str(fields.get("regions", ""))),
        "languages": _listed_form(str(fields.get("languages", ""))),
        "website": str(fields.get("website", "")).strip() or None,
        "contact": {
            "email": str(fields.get("email", "")).strip() or None,
            "phone": str(fields.get("phone", "")).strip() or None,
        },
        "size": size,
    }
    if not profile["name"]:
        errors["name"] = N_("Enter your organisation's name")
    return profile, errors


def _edit_page(
    request: Request, org_id: str, values: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    return page(
        request,
        "organisation_form.html",
        status=status,
        org_id=org_id,
        values=values,
        errors={name: errors[name] for name in PROFILE_FIELDS if name in errors},
        csrf=session.csrf_token(request),
    )


async def edit_organisation(request: Request) -> Response:
    org_id = request.path_params["org_id"]
    found = (await ask(request, EDITABLE, orgId=org_id))["organisation"]
    if found is None:
        return page(request, "not_found.html", status=404)
    return _edit_page(request, org_id, _form_values(found), {}, 200)


async def update_organisation(request: Request) -> Response:
    org_id = request.path_params["org_id"]
    fields = await session.form(request)
    found = (await ask(request, EDITABLE, orgId=org_id))["organisation"]
    if found is None:
        return page(request, "not_found.html", status=404)
    profile, errors = _profile(found, fields)
    version = str(fields.get("version", ""))
    if not errors and version.isdigit():
        answer = (await ask(request, UPDATE, orgId=org_id, version=int(version), profile=profile))[
            "updateOrganisation"
        ]
        if answer["__typename"] == "Organisation":
            return RedirectResponse(f"/organisations/{org_id}", status_code=303)
        errors = problems_by_field(answer, PROFILE_FIELDS, FORM_FIELD)
    return _edit_page(request, org_id, fields, errors, 422)
