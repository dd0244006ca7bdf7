"""Partnerships: a board by stage, and each partnership's page with its dated stage history
and the move to its next stage."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.web.pages import session
from gateway.web.pages.graphql import ask
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

BOARD = """
{ partnerships(first: 100) { edges { node {
    partnershipId stage need { title } commissioner { name } partners { name } } } } }"""

PARTNERSHIP = """
query Partnership($id: String!) {
  partnership(partnershipId: $id) {
    partnershipId version stage needId need { title } commissioner { name }
    partners { orgId name }
    history { fromStage toStage at note }
  }
}"""

MOVE = """
mutation Move($id: String!, $version: Int!, $stage: Stage!, $note: String!) {
  movePartnership(partnershipId: $id, expectedVersion: $version, toStage: $stage, note: $note) {
    __typename
    ... on Problem { message }
  }
}"""


async def board(request: Request) -> Response:
    if session.user(request) is None:
        return RedirectResponse("/sign-in?next=/partnerships", status_code=303)
    edges = (await ask(request, BOARD))["partnerships"]["edges"]
    columns = {stage: [e["node"] for e in edges if e["node"]["stage"] == stage] for stage in STAGES}
    return page(request, "partnerships.html", columns=columns, stages=STAGES)


async def partnership(request: Request, error: str | None = None, status: int = 200) -> Response:
    found = (await ask(request, PARTNERSHIP, id=request.path_params["partnership_id"]))[
        "partnership"
    ]
    if found is None:
        return page(request, "not_found.html", status=404)
    return page(
        request,
        "partnership.html",
        status=status,
        p=found,
        stages=STAGES,
        next_stage=NEXT.get(found["stage"]),
        csrf=session.csrf_token(request),
        error=error,
    )


async def move(request: Request) -> Response:
    fields = await session.form(request)
    partnership_id = request.path_params["partnership_id"]
    stage = str(fields.get("stage", ""))
    if stage not in STAGES or not str(fields.get("version", "")).isdigit():
        return await partnership(request, error=N_("Choose a stage to move to"), status=422)
    answer = (
        await ask(
            request,
            MOVE,
            id=partnership_id,
            version=int(fields["version"]),
            stage=stage,
            note=str(fields.get("note", "")),
        )
    )["movePartnership"]
    if answer["__typename"] != "Partnership":
        return await partnership(request, error=answer["message"], status=422)
    return RedirectResponse(f"/partnerships/{partnership_id}", status_code=303)
