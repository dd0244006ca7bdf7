"""Exchange HTTP API: good practice, endorsements, comments, and search through matching.

Who is calling: the gateway authenticates and passes the acting organisation's
id in each command (``author_id``, ``endorser_id``, ``org_id``); moderation
commands name the operator (``moderator``). This API trusts those fields and
is therefore never exposed directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from pspx.events.registry import OrgKind
from pspx.logs import current_correlation_id
from services.exchange.domain import (
    Comment,
    CommentBody,
    Moderation,
    Organisation,
    Practice,
    PracticeContent,
    Reason,
    Status,
)
from services.exchange.matching_client import Term
from services.exchange.service import Exchange, Found
from services.exchange.store import Sort

Version = Annotated[int, Field(ge=1, description="The version this change was made against")]
OrgRef = Annotated[str, Field(min_length=1, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]
Hits = Annotated[int, Query(ge=1, le=50, description="How many results")]
Filter = Annotated[str | None, Query(max_length=200)]

router = APIRouter()


def exchange(request: Request) -> Exchange:
    service: Exchange = request.app.state.exchange
    return service


# --- answers ---------------------------------------------------------------------------------


class Author(BaseModel):
    id: str
    name: str
    kind: OrgKind | None
    removed: bool = Field(description="The organisation has left the registry; its work stays")


class PracticeOut(Practice):
    author: Author


class PageOut(BaseModel):
    items: list[PracticeOut]
    next_cursor: str | None


class FoundOut(BaseModel):
    practice: PracticeOut
    score: float
    terms: list[Term] = Field(description="The terms that contributed most to the score")


class ResultsOut(BaseModel):
    results: list[FoundOut]


class CommentOut(BaseModel):
    id: str
    version: int
    practice_id: str
    number: int = Field(description="Its place in the practice's dialogue, from 1")
    parent_id: str | None
    author_id: str
    author_name: str
    author_kind: OrgKind | None
    body: str | None = Field(description="Markdown source; null when a moderator hid it")
    body_html: str | None = Field(description="Safe HTML; null when a moderator hid it")
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime
    flag_count: int
    hidden: Moderation | None


async def _practices_out(request: Request, practices: list[Practice]) -> list[PracticeOut]:
    known = await exchange(request).authors(practices)
    return [_practice_out(p, known.get(p.author_id)) for p in practices]


def _practice_out(p: Practice, org: Organisation | None) -> PracticeOut:
    author = Author(
        id=p.author_id,
        name=org.name if org else p.author_name,
        kind=org.kind if org else None,
        removed=org.removed if org else False,
    )
    return PracticeOut(**p.model_dump(), author=author)


async def _one(request: Request, practice: Practice) -> PracticeOut:
    [out] = await _practices_out(request, [practice])
    return out


async def _results(request: Request, found: list[Found]) -> ResultsOut:
    practices = await _practices_out(request, [f.practice for f in found])
    return ResultsOut(
        results=[
            FoundOut(practice=p, score=f.score, terms=f.terms)
            for p, f in zip(practices, found, strict=True)
        ]
    )


def _comment_out(request: Request, c: Comment) -> CommentOut:
    shown = c.hidden is None
    return CommentOut(
        **c.model_dump(
            include={"id", "version", "practice_id", "number", "parent_id", "author_id"}
        ),
        author_name=c.author_name,
        author_kind=c.author_kind,
        body=c.body if shown else None,
        body_html=c.body_html if shown else None,
        created_at=c.created_at,
        edited_at=c.edited_at,
        editable_until=c.created_at + exchange(request).edit_window,
        flag_count=len(c.flags),
        hidden=c.hidden,
    )


# --- practices -------------------------------------------------------------------------------


class DraftPractice(PracticeContent):
    author_id: OrgRef = Field(description="The acting organisation: a registered third-sector one")
    publish: bool = Field(False, description="Publish at once instead of keeping a draft")


class RevisePractice(PracticeContent):
    author_id: OrgRef
    expected_version: Version


class AuthorCommand(BaseModel):
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
)
async def draft_practice(body: DraftPractice, request: Request) -> PracticeOut:
    practice = await exchange(request).draft(
        body.author_id, _content(body), body.publish, current_correlation_id()
    )
    return await _one(request, practice)


@router.get("/practices", tags=["practices"], summary="List practices with filters and sorting")
async def list_practices(
    request: Request,
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
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Limit = 20,
) -> PageOut:
    query: dict[str, Any] = {"status": status_.value}
    if service_area:
        query["content.service_area"] = service_area
    if region:
        query["content.regions"] = region
    if author_id:
        query["author_id"] = author_id
    if tag:
        query["content.tags"] = tag.strip().lower()
    items, next_cursor = await exchange(request).store.page_practices(query, sort, cursor, limit)
    return PageOut(items=await _practices_out(request, items), next_cursor=next_cursor)


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
) -> ResultsOut:
    found = await exchange(request).search(q, region=region, service_area=service_area, limit=limit)
    return await _results(request, found)


@router.get("/practices/{practice_id}", tags=["practices"])
async def get_practice(practice_id: str, request: Request) -> PracticeOut:
    return await _one(request, await exchange(request).practice(practice_id))


@router.get(
    "/practices/{practice_id}/similar",
    tags=["search"],
    summary="Published practices like this one, ranked by the matching service",
)
async def similar_practices(practice_id: str, request: Request, limit: Hits = 5) -> ResultsOut:
    return await _results(request, await exchange(request).similar(practice_id, limit))


@router.put("/practices/{practice_id}", tags=["practices"], summary="Revise a practice")
async def revise_practice(practice_id: str, body: RevisePractice, request: Request) -> PracticeOut:
    practice = await exchange(request).revise(
        practice_id, body.author_id, _content(body), body.expected_version, current_correlation_id()
    )
    return await _one(request, practice)


@router.post("/practices/{practice_id}/publish", tags=["practices"])
async def publish_practice(practice_id: str, body: AuthorCommand, request: Request) -> PracticeOut:
    practice = await exchange(request).publish(
        practice_id, body.author_id, body.expected_version, current_correlation_id()
    )
    return await _one(request, practice)


@router.post("/practices/{practice_id}/withdraw", tags=["practices"])
async def withdraw_practice(practice_id: str, body: AuthorCommand, request: Request) -> PracticeOut:
    practice = await exchange(request).withdraw(
        practice_id, body.author_id, body.expected_version, current_correlation_id()
    )
    return await _one(request, practice)


# --- endorsements ----------------------------------------------------------------------------


class Endorse(BaseModel):
    endorser_id: OrgRef = Field(description="The acting organisation: a registered public body")


@router.post(
    "/practices/{practice_id}/endorsements",
    status_code=status.HTTP_201_CREATED,
    tags=["endorsements"],
    summary="A commissioner endorses a published practice (once)",
)
async def endorse_practice(practice_id: str, body: Endorse, request: Request) -> PracticeOut:
    practice = await exchange(request).endorse(
        practice_id, body.endorser_id, current_correlation_id()
    )
    return await _one(request, practice)


@router.delete(
    "/practices/{practice_id}/endorsements/{endorser_id}",
    tags=["endorsements"],
    summary="Withdraw an endorsement",
)
async def withdraw_endorsement(practice_id: str, endorser_id: str, request: Request) -> PracticeOut:
    practice = await exchange(request).withdraw_endorsement(
        practice_id, endorser_id, current_correlation_id()
    )
    return await _one(request, practice)


# --- comments --------------------------------------------------------------------------------


class PostComment(BaseModel):
    author_id: OrgRef = Field(description="The acting organisation, of either sector")
    body: CommentBody = Field(description="Markdown; raw HTML is shown as text")
    parent_id: str | None = Field(None, description="The comment this one answers")


class EditComment(BaseModel):
    author_id: OrgRef
    expected_version: Version
    body: CommentBody


class FlagComment(BaseModel):
    org_id: OrgRef = Field(description="The acting organisation")
    reason: Reason


class HideComment(BaseModel):
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
)
async def post_comment(practice_id: str, body: PostComment, request: Request) -> CommentOut:
    comment = await exchange(request).comment(
        practice_id, body.author_id, body.body, body.parent_id, current_correlation_id()
    )
    return _comment_out(request, comment)


@router.get(
    "/practices/{practice_id}/comments",
    tags=["comments"],
    summary="The dialogue on a practice, oldest first; replies name their parent",
)
async def list_comments(practice_id: str, request: Request) -> list[CommentOut]:
    return [_comment_out(request, c) for c in await exchange(request).comments(practice_id)]


@router.patch(
    "/comments/{comment_id}",
    tags=["comments"],
    summary="Edit a comment: its author only, within the edit window",
)
async def edit_comment(comment_id: str, body: EditComment, request: Request) -> CommentOut:
    comment = await exchange(request).edit_comment(
        comment_id, body.author_id, body.body, body.expected_version, current_correlation_id()
    )
    return _comment_out(request, comment)


@router.post("/comments/{comment_id}/flags", tags=["comments"], summary="Ask a moderator to look")
async def flag_comment(comment_id: str, body: FlagComment, request: Request) -> CommentOut:
    comment = await exchange(request).flag_comment(
        comment_id, body.org_id, body.reason, current_correlation_id()
    )
    return _comment_out(request, comment)


@router.post(
    "/comments/{comment_id}/hide",
    tags=["moderation"],
    summary="Hide a comment from readers (operators only); it is kept, not deleted",
)
async def hide_comment(comment_id: str, body: HideComment, request: Request) -> CommentOut:
    comment = await exchange(request).hide_comment(
        comment_id, body.moderator, body.reason, current_correlation_id()
    )
    return _comment_out(request, comment)
