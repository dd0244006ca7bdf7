"""Exchange use cases: load, apply a domain command, store the change with its events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pspx.aggregates import Change
from pspx.errors import NotFound, StaleVersion
from services.exchange.domain import (
    COMMENT_EDIT_WINDOW,
    Comment,
    Organisation,
    Practice,
    PracticeContent,
    Status,
)
from services.exchange.matching_client import Hit, MatchingClient, Term
from services.exchange.store import ExchangeStore

T = TypeVar("T")
Clock = Callable[[], datetime]

# Endorsements, comments, flags and moderation carry no expected version: they
# commute, so a lost race is simply run again on the fresh state.
RACE_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Found:
    """A practice that matching ranked, with its score and the terms behind it."""

    practice: Practice
    score: float
    terms: list[Term]


class Exchange:
    def __init__(
        self,
        store: ExchangeStore,
        matching: MatchingClient,
        *,
        clock: Clock = utc_now,
        edit_window: timedelta = COMMENT_EDIT_WINDOW,
    ) -> None:
        self.store = store
        self.matching = matching
        self.clock = clock
        self.edit_window = edit_window

    async def _org(self, org_id: str, field: str) -> Organisation:
        org = await self.store.organisation(org_id)
        if org is None:
            raise NotFound(
                f"organisation {org_id} is not registered (the exchange knows the organisations "
                "that the registry has announced)",
                field=field,
            )
        return org

    async def _raced(self, attempt: Callable[[], Awaitable[T]]) -> T:
        for _ in range(RACE_ATTEMPTS - 1):
            try:
                return await attempt()
            except StaleVersion:
                continue
        return await attempt()

    # practices

    async def draft(
        self, author_id: str, content: PracticeContent, publish: bool, cid: str
    ) -> Practice:
        author = await self._org(author_id, "author_id")
        at = self.clock()
        practice = Practice.draft(new_id("gp"), author, content, at)
        events = practice.publish(author, at) if publish else []
        await self.store.save(practice, events, cid, new=True)
        return practice

    async def publish(
        self, practice_id: str, author_id: str, expected_version: int, cid: str
    ) -> Practice:
        practice = await self.store.load(Practice, practice_id, expected_version)
        author = await self._org(author_id, "author_id")
        await self.store.save(practice, practice.publish(author, self.clock()), cid)
        return practice

    async def revise(
        self,
        practice_id: str,
        author_id: str,
        content: PracticeContent,
        expected_version: int,
        cid: str,
    ) -> Practice:
        practice = await self.store.load(Practice, practice_id, expected_version)
        author = await self._org(author_id, "author_id")
        before = practice.version
        events = practice.revise(author, content, self.clock())
        if practice.version != before:
            await self.store.save(practice, events, cid)
        return practice

    async def withdraw(
        self, practice_id: str, author_id: str, expected_version: int, cid: str
    ) -> Practice:
        practice = await self.store.load(Practice, practice_id, expected_version)
        author = await self._org(author_id, "author_id")
        await self.store.save(practice, practice.withdraw(author, self.clock()), cid)
        return practice

    async def practice(self, practice_id: str) -> Practice:
        return await self.store.load(Practice, practice_id)

    async def authors(self, practices: list[Practice]) -> dict[str, Organisation]:
        """The replica's record of each practice's author (kept after a removal)."""
        return await self.store.organisations(sorted({p.author_id for p in practices}))

    # endorsements

    async def endorse(self, practice_id: str, endorser_id: str, cid: str) -> Practice:
        endorser = await self._org(endorser_id, "endorser_id")

        async def attempt() -> Practice:
            practice = await self.store.load(Practice, practice_id)
            await self.store.save(practice, practice.endorse(endorser, self.clock()), cid)
            return practice

        return await self._raced(attempt)

    async def withdraw_endorsement(self, practice_id: str, endorser_id: str, cid: str) -> Practice:
        async def attempt() -> Practice:
            practice = await self.store.load(Practice, practice_id)
            events = practice.withdraw_endorsement(endorser_id, self.clock())
            await self.store.save(practice, events, cid)
            return practice

        return await self._raced(attempt)

    # comments

    async def comment(
        self, practice_id: str, author_id: str, body: str, parent_id: str | None, cid: str
    ) -> Comment:
        author = await self._org(author_id, "author_id")
        parent = None
        if parent_id is not None:
            parent = await self.store.get(Comment, parent_id)
            if parent is None:
                raise NotFound(f"comment {parent_id} does not exist", field="parent_id")

        async def attempt() -> Comment:
            practice = await self.store.load(Practice, practice_id)
            comment, events = practice.comment(
                new_id("cm"), author, body, self.clock(), parent=parent
            )
            await self.store.commit([Change(practice, events), Change(comment, [], new=True)], cid)
            return comment

        return await self._raced(attempt)

    async def edit_comment(
        self, comment_id: str, author_id: str, body: str, expected_version: int, cid: str
    ) -> Comment:
        comment = await self.store.load(Comment, comment_id, expected_version)
        before = comment.version
        comment.edit(author_id, body, self.clock(), self.edit_window)
        if comment.version != before:
            await self.store.save(comment, [], cid)
        return comment

    async def flag_comment(self, comment_id: str, org_id: str, reason: str, cid: str) -> Comment:
        flagger = await self._org(org_id, "org_id")

        async def attempt() -> Comment:
            comment = await self.store.load(Comment, comment_id)
            before = comment.version
            comment.flag(flagger, reason, self.clock())
            if comment.version != before:
                await self.store.save(comment, [], cid)
            return comment

        return await self._raced(attempt)

    async def hide_comment(self, comment_id: str, moderator: str, reason: str, cid: str) -> Comment:
        async def attempt() -> Comment:
            comment = await self.store.load(Comment, comment_id)
            before = comment.version
            comment.hide(moderator, reason, self.clock())
            if comment.version != before:
                await self.store.save(comment, [], cid)
            return comment

        return await self._raced(attempt)

    async def comments(self, practice_id: str) -> list[Comment]:
        await self.store.load(Practice, practice_id)
        return await self.store.comments_of(practice_id)

    # search, through the matching service

    async def search(
        self, q: str, *, region: str | None, service_area: str | None, limit: int
    ) -> list[Found]:
        hits = await self.matching.search(q, region=region, service_area=service_area, limit=limit)
        return await self._hydrate(hits)

    async def similar(self, practice_id: str, limit: int) -> list[Found]:
        await self.store.load(Practice, practice_id)
        hits = await self.matching.similar(practice_id, limit=limit)
        return await self._hydrate([h for h in hits if h.id != practice_id])

    async def _hydrate(self, hits: list[Hit]) -> list[Found]:
        """Matching's order, score and terms; the practice as stored here, if still published."""
        found = await self.store.get_many(Practice, [h.id for h in hits])
        return [
            Found(found[h.id], h.score, h.terms)
            for h in hits
            if h.id in found and found[h.id].status is Status.PUBLISHED
        ]
