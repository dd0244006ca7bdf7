"""Find partners: a search with filters, ranked results with the reasons for each rank, a
consortium where no single partner covers the need; and an organisation's profile."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.web.pages.graphql import Unanswered, ask
from gateway.web.pages.render import N_, page

KINDS = ["CHARITY", "SOCIAL_ENTERPRISE", "VOLUNTARY", "COMMUNITY", "COOPERATIVE"]
RESULTS = 20

SEARCH = """
query Find($search: PartnerSearch!, $first: Int!) {
  searchPartners(search: $search, first: $first) {
    rank partnerId name score reasons { term weight } matchedFilters { name values }
    partner { orgId kind regions serviceAreas size { staff volunteers } }
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
    registeredAt thirdSector
    similar(first: 5) { partnerId name score reasons { term } }
  }
}"""


def _listed(request: Request, name: str) -> list[str]:
    return [v.strip() for v in request.query_params.getlist(name) if v.strip()][:20]


async def find_partners(request: Request) -> Response:
    text = request.query_params.get("q", "").strip()
    filters = {
        "regions": _listed(request, "region"),
        "kinds": [k for k in _listed(request, "kind") if k in KINDS],
        "serviceAreas": _listed(request, "service_area"),
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
        found=found,
        error=error,
    )


async def organisation(request: Request) -> Response:
    found = await ask(request, PROFILE, orgId=request.path_params["org_id"])
    if found["organisation"] is None:
        return page(request, "not_found.html", status=404)
    return page(request, "organisation.html", org=found["organisation"])
