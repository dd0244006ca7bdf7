"""The exchange's read side: practices, their dialogue, and search through matching.

Answers are response models of their own. A practice is shown with its
author as the organisation replica knows it now (a rename shows at once; a
removed organisation's work stays, marked as such). Search and similar
practices are ranked by the matching service; the practices themselves are
read here, and only published ones are shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from pspx import paging
from pspx.errors import NotFound
from pspx.events.registry import OrgKind
from pspx.paging import Page
from services.exchange.domain import (
    Comment,
    Endorsement,
    Flag,
    Moderation,
    Organisation,
    Practice,
    PracticeContent,
    Status,
)
from services.exchange.matching_client import Hit, MatchingClient, Term
from services.exchange.store import (
    AWAITING_MODERATION,
    COLLECTIONS,
    ORDERS,
    ORGANISATIONS,
    Sort,
)

Document = dict[str, Any]


class Author(BaseModel):
    id: str
    name: str
    kind: OrgKind | None
    removed: bool = Field(description="The organisation has left the registry; its work stays")


class PracticeView(BaseModel):
    id: str
    version: int
    author: Author
    content: PracticeContent
    body_html: str = Field(description="The body rendered from Markdown and sanitised")
    status: Status
    endorsements: list[Endorsement]
    endorsement_count: int
    comment_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None


class FoundView(BaseModel):
    practice: PracticeView
    score: float
    terms: list[Term] = Field(description="The terms that contributed most to the score")


class ResultsView(BaseModel):
    results: list[FoundView]


class CommentView(BaseModel):
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
    flags: list[Flag] = Field(description="Who asked a moderator to look, why and when")
    hidden: Moderation | None

    @classmethod
    def of(cls, c: Comment, edit_window: timedelta) -> CommentView:
        shown = c.hidden is None
        return cls(
            **c.model_dump(
                include={
                    "id",
                    "version",
                    "practice_id",
                    "number",
                    "parent_id",
                    "author_id",
                    "author_name",
                    "author_kind",
                    "created_at",
                    "edited_at",
                    "flags",
                    "hidden",
                }
            ),
            body=c.body if shown else None,
            body_html=c.body_html if shown else None,
            editable_until=c.created_at + edit_window,
            flag_count=len(c.flags),
        )


def _comment(doc: Document) -> Comment:
    return Comment.model_validate({**doc, "id": doc["_id"]})


def _practice(doc: Document) -> Practice:
    fields = {k: v for k, v in doc.items() if k != "listed_at"}
    return Practice.model_validate({**fields, "id": fields.pop("_id")})


class ExchangeQueries:
    def __init__(
        self, db: AsyncDatabase[Document], matching: MatchingClient, edit_window: timedelta
    ) -> None:
        self._practices = db[COLLECTIONS[Practice]]
        self._comments = db[COLLECTIONS[Comment]]
        self._organisations = db[ORGANISATIONS]
        self.matching = matching
        self.edit_window = edit_window

    # practices

    async def views(self, practices: list[Practice]) -> list[PracticeView]:
        """Practices as shown: with their authors as the replica knows them now."""
        ids = sorted({p.author_id for p in practices})
        known = {
            d["_id"]: Organisation.model_validate({**d, "id": d["_id"]})
            async for d in self._organisations.find({"_id": {"$in": ids}})
        }
        return [self._view(p, known.get(p.author_id)) for p in practices]

    async def view(self, practice: Practice) -> PracticeView:
        [view] = await self.views([practice])
        return view

    @staticmethod
    def _view(p: Practice, org: Organisation | None) -> PracticeView:
        author = Author(
            id=p.author_id,
            name=org.name if org else p.author_name,
            kind=org.kind if org else None,
            removed=org.removed if org else False,
        )
        return PracticeView(**p.model_dump(exclude={"author_id", "author_name"}), author=author)

    async def _get(self, practice_id: str) -> Practice:
        doc = await self._practices.find_one({"_id": practice_id})
        if doc is None:
            raise NotFound(f"practice {practice_id} does not exist")
        return _practice(doc)

    async def practice(self, practice_id: str) -> PracticeView:
        return await self.view(await self._get(practice_id))

    async def practices(
        self,
        *,
        status: Status = Status.PUBLISHED,
        ids: list[str] | None = None,
        service_area: str | None = None,
        region: str | None = None,
        author_id: str | None = None,
        tag: str | None = None,
        sort: Sort = Sort.NEWEST,
        cursor: str | None = None,
        limit: int = 20,
    ) -> Page[PracticeView]:
        query: Document = {"status": status.value}
        if ids:
            query["_id"] = {"$in": ids}
        if service_area:
            query["content.service_area"] = service_area
        if region:
            query["content.regions"] = region
        if author_id:
            query["author_id"] = author_id
        if tag:
            query["content.tags"] = tag.strip().lower()
        docs, next_cursor = await paging.page(self._practices, query, ORDERS[sort], cursor, limit)
        items = await self.views([_practice(d) for d in docs])
        return Page[PracticeView](items=items, next_cursor=next_cursor)

    # the dialogue

    def comment_view(self, comment: Comment) -> CommentView:
        return CommentView.of(comment, self.edit_window)

    async def comments(self, practice_id: str) -> list[CommentView]:
        await self._get(practice_id)
        cursor = self._comments.find({"practice_id": practice_id}).sort("number", ASCENDING)
        return [self.comment_view(_comment(d)) async for d in cursor]

    async def comments_by_id(self, ids: list[str]) -> list[CommentView]:
        cursor = self._comments.find({"_id": {"$in": ids}}).sort("_id", ASCENDING)
        return [self.comment_view(_comment(d)) async for d in cursor]

    async def awaiting_moderation(self, cursor: str | None, limit: int) -> Page[CommentView]:
        """Flagged comments not yet hidden, the longest waiting first."""
        query = {"flagged_at": {"$exists": True}}
        docs, next_cursor = await paging.page(
            self._comments, query, AWAITING_MODERATION, cursor, limit
        )
        items = [self.comment_view(_comment(d)) for d in docs]
        return Page[CommentView](items=items, next_cursor=next_cursor)

    # search, ranked by the matching service

    async def search(
        self, q: str, *, region: str | None, service_area: str | None, limit: int
    ) -> ResultsView:
        hits = await self.matching.search(q, region=region, service_area=service_area, limit=limit)
        return await self._results(hits)

    async def similar(self, practice_id: str, limit: int) -> ResultsView:
        await self._get(practice_id)
        hits = await self.matching.similar(practice_id, limit=limit)
        return await self._results([h for h in hits if h.id != practice_id])

    async def _results(self, hits: list[Hit]) -> ResultsView:
        """Matching's order, score and terms; the practice as stored here, if still published."""
        docs = self._practices.find({"_id": {"$in": [h.id for h in hits]}, "status": "published"})
        found = {d["_id"]: _practice(d) async for d in docs}
        shown = [h for h in hits if h.id in found]
        views = await self.views([found[h.id] for h in shown])
        return ResultsView(
            results=[
                FoundView(practice=v, score=h.score, terms=h.terms)
                for v, h in zip(views, shown, strict=True)
            ]
        )
