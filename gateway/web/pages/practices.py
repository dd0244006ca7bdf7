"""The innovation exchange: browse, search and read good practice; post and edit it (in
Markdown, with a preview); endorse it, talk about it, flag a comment; and the operators'
moderation queue."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.web.pages import session
from gateway.web.pages.graphql import PROBLEM, ask, problems_by_field
from gateway.web.pages.render import N_, page
from pspx.markdown import render_without_images

PAGE = 20

CARD = "practiceId title summary serviceArea regions tags endorsementCount commentCount"
CARD += " publishedAt author { name }"

BROWSE = f"""
query Browse($after: String, $area: [String!], $region: [String!], $tag: [String!],
             $endorsed: Boolean!) {{
  practices(first: {PAGE}, after: $after, serviceArea: $area, region: $region, tag: $tag,
            mostEndorsed: $endorsed) {{
    edges {{ node {{ {CARD} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

SEARCH = f"""
query Search($text: String!, $area: [String!], $region: [String!]) {{
  searchPractices(text: $text, serviceArea: $area, region: $region, first: {PAGE}) {{
    rank score reasons {{ term }} practice {{ {CARD} }}
  }}
}}"""

COMMENT = """commentId version number authorId authorName authorKind body createdAt flagCount
  hidden { reason at }"""

PRACTICE = f"""
query Practice($id: String!) {{
  practice(practiceId: $id) {{
    practiceId version title summary body status serviceArea regions outcomes tags
    publishedAt updatedAt endorsementCount
    author {{ orgId name kind }}
    evidence {{ peopleServed costSavingsGbp }}
    endorsements {{ endorserId endorserName at }}
    comments {{ {COMMENT} replies {{ {COMMENT} replies {{ {COMMENT} }} }} }}
    similar(first: 3) {{ practice {{ practiceId title }} }}
  }}
}}"""

SAVE_FIELDS = f"{PROBLEM} ... on Practice {{ practiceId }}"
DRAFT = f"""
mutation Draft($practice: PracticeInput!, $publish: Boolean!) {{
  draftPractice(practice: $practice, publish: $publish) {{ {SAVE_FIELDS} }}
}}"""
REVISE = f"""
mutation Revise($id: String!, $version: Int!, $practice: PracticeInput!) {{
  revisePractice(practiceId: $id, expectedVersion: $version, practice: $practice) {{
    {SAVE_FIELDS}
  }}
}}"""
PUBLISH = f"""
mutation Publish($id: String!, $version: Int!) {{
  publishPractice(practiceId: $id, expectedVersion: $version) {{ {SAVE_FIELDS} }}
}}"""

ANSWER = "__typename ... on Problem { message }"
ENDORSE = f"mutation E($id: String!) {{ endorsePractice(practiceId: $id) {{ {ANSWER} }} }}"
UNENDORSE = f"mutation W($id: String!) {{ withdrawEndorsement(practiceId: $id) {{ {ANSWER} }} }}"
POST_COMMENT = f"""
mutation C($id: String!, $body: String!, $parent: String) {{
  postComment(practiceId: $id, body: $body, parentId: $parent) {{ {ANSWER} }}
}}"""
FLAG = f"""
mutation F($id: String!, $reason: String!) {{
  flagComment(commentId: $id, reason: $reason) {{ {ANSWER} }}
}}"""
HIDE = f"""
mutation H($id: String!, $reason: String!) {{
  hideComment(commentId: $id, reason: $reason) {{ {ANSWER} }}
}}"""

QUEUE = """
query Queue($after: String) {
  moderationQueue(first: 50, after: $after) {
    edges { node { commentId body createdAt authorName flagCount
      flags { orgId reason at } practice { practiceId title } } }
  }
}"""

FIELDS = ("title", "summary", "body", "service_area", "regions", "tags", "people_served")
FORM_FIELD = {"serviceArea": "service_area", "peopleServed": "people_served"}


def _listed(request: Request, name: str) -> list[str] | None:
    values = [v.strip() for v in request.query_params.getlist(name) if v.strip()][:20]
    return values or None


async def browse(request: Request) -> Response:
    text = request.query_params.get("q", "").strip()[:2000]
    area, region = _listed(request, "service_area"), _listed(request, "region")
    sort = request.query_params.get("sort", "newest")
    if text:
        ranked = (await ask(request, SEARCH, text=text, area=area, region=region))[
            "searchPractices"
        ]
        found, next_page = ranked, None
    else:
        listing = (
            await ask(
                request,
                BROWSE,
                after=request.query_params.get("after") or None,
                area=area,
                region=region,
                tag=_listed(request, "tag"),
                endorsed=sort == "most_endorsed",
            )
        )["practices"]
        found = [{"practice": e["node"]} for e in listing["edges"]]
        info = listing["pageInfo"]
        next_page = info["endCursor"] if info["hasNextPage"] else None
    return page(
        request,
        "practices.html",
        text=text,
        area=", ".join(area or []),
        region=", ".join(region or []),
        tag=", ".join(_listed(request, "tag") or []),
        sort=sort,
        found=found,
        next_page=next_page,
    )


def _markdown(text: str | None) -> str:
    return render_without_images(text or "")


async def practice(
    request: Request, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    found = (await ask(request, PRACTICE, id=request.path_params["practice_id"]))["practice"]
    if found is None:
        return page(request, "not_found.html", status=404)
    signed_in = session.user(request)
    return page(
        request,
        "practice.html",
        status=status,
        p=found,
        body_html=_markdown(found["body"]),
        markdown=_markdown,
        me=signed_in,
        endorsed=signed_in is not None
        and any(e["endorserId"] == signed_in.org_id for e in found["endorsements"]),
        csrf=session.csrf_token(request),
        errors=errors or {},
    )


def _content(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The PracticeInput a form describes, and what the page can tell is wrong without
    asking."""
    errors: dict[str, str] = {}

    def listed(name: str) -> list[str]:
        return [v.strip() for v in str(fields.get(name, "")).split(",") if v.strip()]

    content: dict[str, Any] = {
        "title": str(fields.get("title", "")).strip(),
        "summary": str(fields.get("summary", "")).strip(),
        "body": str(fields.get("body", "")).strip(),
        "serviceArea": str(fields.get("service_area", "")).strip() or None,
        "regions": listed("regions"),
        "tags": listed("tags"),
    }
    served = str(fields.get("people_served", "")).replace(",", "").strip()
    if served:
        if served.isdigit():
            content["evidence"] = {"peopleServed": int(served)}
        else:
            errors["people_served"] = N_("Enter the number of people served as a whole number")
    for name, message in (
        ("title", N_("Enter a title")),
        ("summary", N_("Enter a summary")),
        ("body", N_("Describe the practice")),
    ):
        if not content[name]:
            errors[name] = message
    return content, errors


def _form(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    editing: dict[str, Any] | None = None,
    preview: str | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "practice_form.html",
        status=status,
        values=values,
        errors={name: errors[name] for name in FIELDS if name in errors},
        editing=editing,
        preview=preview,
        csrf=session.csrf_token(request),
    )


async def new_practice(request: Request) -> Response:
    return _form(request, {}, {})


async def edit_practice(request: Request) -> Response:
    found = (await ask(request, PRACTICE, id=request.path_params["practice_id"]))["practice"]
    if found is None:
        return page(request, "not_found.html", status=404)
    values = {
        "title": found["title"],
        "summary": found["summary"],
        "body": found["body"],
        "service_area": found["serviceArea"] or "",
        "regions": ", ".join(found["regions"]),
        "tags": ", ".join(found["tags"]),
        "people_served": found["evidence"]["peopleServed"] or "",
        "version": found["version"],
    }
    return _form(request, values, {}, editing=found)


async def save_practice(request: Request) -> Response:
    fields = await session.form(request)
    practice_id = request.path_params.get("practice_id")
    editing = {"practiceId": practice_id} if practice_id else None
    content, errors = _content(fields)
    action = fields.get("action")
    if action == "preview":
        return _form(request, fields, {}, editing=editing, preview=_markdown(content["body"]))
    if errors:
        return _form(request, fields, errors, editing=editing, status=422)
    if practice_id:
        version = int(str(fields.get("version", "0")) or 0)
        answer = (await ask(request, REVISE, id=practice_id, version=version, practice=content))[
            "revisePractice"
        ]
    else:
        publish = action == "publish"
        answer = (await ask(request, DRAFT, practice=content, publish=publish))["draftPractice"]
    if answer["__typename"] == "Practice":
        return RedirectResponse(f"/practices/{answer['practiceId']}", status_code=303)
    errors = problems_by_field(answer, FIELDS, FORM_FIELD)
    return _form(request, fields, errors, editing=editing, status=422)


async def _act(request: Request, document: str, field: str, **variables: Any) -> Response:
    """Run one of the practice page's commands and go back to the page, or show it with the
    command's problem."""
    answer = next(iter((await ask(request, document, **variables)).values()))
    if answer["__typename"] in ("Practice", "Comment"):
        target = request.path_params["practice_id"]
        return RedirectResponse(f"/practices/{target}#{field}", status_code=303)
    return await practice(request, errors={field: answer["message"]}, status=422)


async def publish(request: Request) -> Response:
    fields = await session.form(request)
    version = int(str(fields.get("version", "0")) or 0)
    return await _act(
        request, PUBLISH, "status", id=request.path_params["practice_id"], version=version
    )


async def endorse(request: Request) -> Response:
    fields = await session.form(request)
    document = UNENDORSE if fields.get("action") == "withdraw" else ENDORSE
    return await _act(request, document, "endorsements", id=request.path_params["practice_id"])


async def comment(request: Request) -> Response:
    fields = await session.form(request)
    body = str(fields.get("body", "")).strip()
    parent = str(fields.get("parent_id", "")) or None
    field = f"reply-{parent}" if parent else "comment"
    if not body:
        return await practice(request, errors={field: N_("Enter your comment")}, status=422)
    return await _act(
        request,
        POST_COMMENT,
        field,
        id=request.path_params["practice_id"],
        body=body,
        parent=parent,
    )


async def flag(request: Request) -> Response:
    fields = await session.form(request)
    comment_id = str(fields.get("comment_id", ""))
    reason = str(fields.get("reason", "")).strip() or N_("No reason given")
    return await _act(request, FLAG, f"flag-{comment_id}", id=comment_id, reason=reason)


async def moderation(request: Request) -> Response:
    edges = (await ask(request, QUEUE, after=None))["moderationQueue"]["edges"]
    return page(
        request,
        "moderation.html",
        queue=[e["node"] for e in edges],
        markdown=_markdown,
        csrf=session.csrf_token(request),
    )


async def hide(request: Request) -> Response:
    fields = await session.form(request)
    reason = str(fields.get("reason", "")).strip() or N_("Breaks the exchange's rules")
    answer = (await ask(request, HIDE, id=str(fields.get("comment_id", "")), reason=reason))[
        "hideComment"
    ]
    if answer["__typename"] != "Comment":
        return page(request, "problem.html", status=422, message=answer["message"])
    return RedirectResponse("/moderation", status_code=303)
