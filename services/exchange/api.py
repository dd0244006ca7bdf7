"""Exchange HTTP API: good practice, endorsements, comments, and search through matching.

Who is calling: the gateway authenticates and passes the acting organisation's
id in each command (``author_id``, ``endorser_id``, ``org_id``); moderation
commands name the operator (``moderator``). This API trusts those fields and
is therefore never exposed directly. Queries go to the read side
(``queries.py``); commands to the use cases (``service.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from pspx.http import errors
from pspx.logs import current_correlation_id
from pspx.paging import Page
from services.exchange.domain import CommentBody, PracticeContent, Reason, Status
from services.exchange.queries import (
    CommentView,
    ExchangeQueries,
    PracticeView,
    ResultsView,
)
from services.exchange.service import Exchange
from services.exchange.store import Sort

Version = Annotated[int, Field(ge=1, description="The version this change was made against")]
OrgRef = Annotated[str, Field(min_length=1, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Hits = Annotated[int, Query(ge=1, le=50, description="How many results")]
Filter = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[
    str | None, Query(max_length=1000, description="next_cursor of the previous page")
]
STRICT = ConfigDict(extra="forbid")

# Every request may meet the size limit (413) and the database being away (503).
router = APIRouter(responses=errors(413, 422, 503))


def exchange(request: Request) -> Exchange:
    service: Exchange = request.app.state.exchange
    return service


def queries(request: Request) -> ExchangeQueries:
    found: ExchangeQueries = request.app.state.queries
    return found


# --- practices -------------------------------------------------------------------------------


class DraftPractice(PracticeContent):
    author_id: OrgRef = Field(description="The acting organisation: a registered third-sector one")
    publish: bool = Field(False, description="Publish at once instead of keeping a draft")


class RevisePractice(PracticeContent):
    author_id: OrgRef
    expected_version: Version


class AuthorCommand(BaseModel):
    model_config = STRICT

    author_id: OrgRef
    expected_version: Version


def _content(body: PracticeContent) -> PracticeContent:
    return PracticeContent.model_validate(
        body.model_dump(include=set(PracticeContent.model_fields))
    )


@router.post(
    "/practices",
    status_code=status.HTTP_201_CREATED,
    tags=["practices"],
    summary="Write a practice as a draft, or publish it at once",
    responses=errors(403, 404, 409),
)
async def draft_practice(body: DraftPractice, request: Request) -> PracticeView:
    practice = await exchange(request).draft(
        body.author_id, _content(body), body.publish, current_correlation_id()
    )
    return await queries(request).view(practice)


@router.get("/practices", tags=["practices"], summary="List practices with filters and sorting")
async def list_practices(
    request: Request,
    id: Annotated[list[str] | None, Query(max_length=100, description="Only these ids")] = None,
    service_area: Filter = None,
    region: Filter = None,
    author_id: Filter = None,
    tag: Filter = None,
    status_: Annotated[
        Status,
        Query(
            alias="status",
            description="Published by default; the gateway shows drafts only to their author",
        ),
    ] = Status.PUBLISHED,
    sort: Sort = Sort.NEWEST,
    cursor: Cursor = None,
    limit: Limit = 20,
) -> Page[PracticeView]:
    return await queries(request).practices(
        status=status_,
        ids=id,
        service_area=service_area,
        region=region,
        author_id=author_id,
        tag=tag,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/practices/search",
    tags=["search"],
    summary="Full-text search of published practices, ranked by the matching service",
)
async def search_practices(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    region: Filter = None,
    service_area: Filter = None,
    limit: Hits = 10,
) -> ResultsView:
    return await queries(request).search(q, region=region, service_area=service_area, limit=limit)


@router.get("/practices/{practice_id}", tags=["practices"], responses=errors(404))
async def get_practice(practice_id: str, request: Request) -> PracticeView:
    return await queries(request).practice(practice_id)


@router.get(
    "/practices/{practice_id}/similar",
    tags=["search"],
    summary="Published practices like this one, ranked by the matching service",
    responses=errors(404),
)
async def similar_practices(practice_id: str, request: Request, limit: Hits = 5) -> ResultsView:
    return await queries(request).similar(practice_id, limit)


@router.put(
    "/practices/{practice_id}",
    tags=["practices"],
    summary="Revise a practice",
    responses=errors(403, 404, 409),
)
async def revise_practice(practice_id: str, body: RevisePractice, request: Request) -> PracticeView:
    practice = await exchange(request).revise(
        practice_id, body.author_id, _content(body), body.expected_version, current_correlation_id()
    )
    return await queries(request).view(practice)


@router.post(
    "/practices/{practice_id}/publish", tags=["practices"], responses=errors(403, 404, 409)
)
async def publish_practice(practice_id: str, body: AuthorCommand, request: Request) -> PracticeView:
    practice = await exchange(request).publish(
        practice_id, body.author_id, body.expected_version, current_correlation_id()
    )
    return await queries(request).view(practice)


@router.post(
    "/practices/{practice_id}/withdraw", tags=["practices"], responses=errors(403, 404, 409)
)
async def withdraw_practice(
    practice_id: str, body: AuthorCommand, request: Request
) -> PracticeView:
    practice = await exchange(request).withdraw(
        practice_id, body.author_id, body.expected_version, current_correlation_id()
    )
    return await queries(request).view(practice)


# --- endorsements ----------------------------------------------------------------------------


class Endorse(BaseModel):
    model_config = STRICT

    endorser_id: OrgRef = Field(description="The acting organisation: a registered public body")


@router.post(
    "/practices/{practice_id}/endorsements",
    status_code=status.HTTP_201_CREATED,
    tags=["endorsements"],
    summary="A commissioner endorses a published practice (once)",
    responses=errors(403, 404, 409),
)
async def endorse_practice(practice_id: str, body: Endorse, request: Request) -> PracticeView:
    practice = await exchange(request).endorse(
        practice_id, body.endorser_id, current_correlation_id()
    )
    return await queries(request).view(practice)


@router.delete(
    "/practices/{practice_id}/endorsements/{endorser_id}",
    tags=["endorsements"],
    summary="Withdraw an endorsement",
    responses=errors(404, 409),
)
async def withdraw_endorsement(
    practice_id: str, endorser_id: str, request: Request
) -> PracticeView:
    practice = await exchange(request).withdraw_endorsement(
        practice_id, endorser_id, current_correlation_id()
    )
    return await queries(request).view(practice)


# --- comments --------------------------------------------------------------------------------


class PostComment(BaseModel):
    model_config = STRICT

    author_id: OrgRef = Field(description="The acting organisation, of either sector")
    body: CommentBody = Field(description="Markdown; raw HTML is shown as text")
    parent_id: str | None = Field(None, max_length=200, description="The comment this answers")


class EditComment(BaseModel):
    model_config = STRICT

    author_id: OrgRef
    expected_version: Version
    body: CommentBody


class FlagComment(BaseModel):
    model_config = STRICT

    org_id: OrgRef = Field(description="The acting organisation")
    reason: Reason


class HideComment(BaseModel):
    model_config = STRICT

    moderator: str = Field(
        min_length=1,
        max_length=200,
        description="The operator who hides it; operators only (the gateway checks the role)",
    )
    reason: Reason


@router.post(
    "/practices/{practice_id}/comments",
    status_code=status.HTTP_201_CREATED,
    tags=["comments"],
    responses=errors(403, 404, 409),
)
async def post_comment(practice_id: str, body: PostComment, request: Request) -> CommentView:
    comment = await exchange(request).comment(
        practice_id, body.author_id, body.body, body.parent_id, current_correlation_id()
    )
    return queries(request).comment_view(comment)


@router.get(
    "/practices/{practice_id}/comments",
    tags=["comments"],
    summary="The dialogue on a practice, oldest first; replies name their parent",
    responses=errors(404),
)
async def list_comments(practice_id: str, request: Request) -> list[CommentView]:
    return await queries(request).comments(practice_id)


@router.get("/comments", tags=["comments"], summary="Comments by id, for batch reads")
async def comments_by_id(
    request: Request,
    id: Annotated[list[str], Query(min_length=1, max_length=100, description="Their ids")],
) -> list[CommentView]:
    return await queries(request).comments_by_id(id)


@router.patch(
    "/comments/{comment_id}",
    tags=["comments"],
    summary="Edit a comment: its author only, within the edit window",
    responses=errors(403, 404, 409),
)
async def edit_comment(comment_id: str, body: EditComment, request: Request) -> CommentView:
    comment = await exchange(request).edit_comment(
        comment_id, body.author_id, body.body, body.expected_version, current_correlation_id()
    )
    return queries(request).comment_view(comment)


@router.post(
    "/comments/{comment_id}/flags",
    tags=["comments"],
    summary="Ask a moderator to look",
    responses=errors(403, 404, 409),
)
async def flag_comment(comment_id: str, body: FlagComment, request: Request) -> CommentView:
    comment = await exchange(request).flag_comment(
        comment_id, body.org_id, body.reason, current_correlation_id()
    )
    return queries(request).comment_view(comment)


@router.get(
    "/moderation/queue",
    tags=["moderation"],
    summary="Flagged comments no moderator has hidden yet, the longest waiting first",
)
async def moderation_queue(
    request: Request, cursor: Cursor = None, limit: Limit = 20
) -> Page[CommentView]:
    return await queries(request).awaiting_moderation(cursor, limit)


@router.post(
    "/comments/{comment_id}/hide",
    tags=["moderation"],
    summary="Hide a comment from readers (operators only); it is kept, not deleted",
    responses=errors(404, 409),
)
async def hide_comment(comment_id: str, body: HideComment, request: Request) -> CommentView:
    comment = await exchange(request).hide_comment(
        comment_id, body.moderator, body.reason, current_correlation_id()
    )
    return queries(request).comment_view(comment)
