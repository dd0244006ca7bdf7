"""Exchange use cases: load, apply a domain command, store the change with its events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from pspx.domain import Clock, utc_now
from pspx.errors import NotFound, StaleVersion
from pspx.events import Event
from pspx.store import Change
from services.exchange.domain import (
    COMMENT_EDIT_WINDOW,
    Comment,
    Organisation,
    Practice,
    PracticeContent,
)
from services.exchange.store import ExchangeStore

T = TypeVar("T")

# Endorsements, comments, flags and moderation carry no expected version: they
# commute, so a lost race is simply run again on the fresh state.
RACE_ATTEMPTS = 5


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def raced(attempt: Callable[[], Awaitable[T]]) -> T:
    for _ in range(RACE_ATTEMPTS - 1):
        try:
            return await attempt()
        except StaleVersion:
            continue
    return await attempt()


class Exchange:
    def __init__(
        self,
        store: ExchangeStore,
        *,
        clock: Clock = utc_now,
        edit_window: timedelta = COMMENT_EDIT_WINDOW,
    ) -> None:
        self.store = store
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

    # practices

    async def draft(
        self, author_id: str, content: PracticeContent, publish: bool, correlation_id: str
    ) -> Practice:
        author = await self._org(author_id, "author_id")
        at = self.clock()
        practice, events = Practice.draft(new_id("gp"), author, content, at)
        if publish:
            events += practice.publish(author, at)
        await self.store.save(practice, events, correlation_id, new=True)
        return practice

    async def publish(
        self, practice_id: str, author_id: str, expected_version: int, correlation_id: str
    ) -> Practice:
        practice = await self.store.load(Practice, practice_id, expected_version)
        author = await self._org(author_id, "author_id")
        await self.store.save(practice, practice.publish(author, self.clock()), correlation_id)
        return practice

    async def revise(
        self,
        practice_id: str,
        author_id: str,
        content: PracticeContent,
        expected_version: int,
        correlation_id: str,
    ) -> Practice:
        practice = await self.store.load(Practice, practice_id, expected_version)
        author = await self._org(author_id, "author_id")
        before = practice.version
        events = practice.revise(author, content, self.clock())
        if practice.version != before:
            await self.store.save(practice, events, correlation_id)
        return practice

    async def withdraw(
        self, practice_id: str, author_id: str, expected_version: int, correlation_id: str
    ) -> Practice:
        practice = await self.store.load(Practice, practice_id, expected_version)
        author = await self._org(author_id, "author_id")
        await self.store.save(practice, practice.withdraw(author, self.clock()), correlation_id)
        return practice

    # endorsements

    async def endorse(self, practice_id: str, endorser_id: str, correlation_id: str) -> Practice:
        endorser = await self._org(endorser_id, "endorser_id")

        async def attempt() -> Practice:
            practice = await self.store.load(Practice, practice_id)
            events = practice.endorse(endorser, self.clock())
            await self.store.save(practice, events, correlation_id)
            return practice

        return await raced(attempt)

    async def withdraw_endorsement(
        self, practice_id: str, endorser_id: str, correlation_id: str
    ) -> Practice:
        async def attempt() -> Practice:
            practice = await self.store.load(Practice, practice_id)
            events = practice.withdraw_endorsement(endorser_id, self.clock())
            await self.store.save(practice, events, correlation_id)
            return practice

        return await raced(attempt)

    # comments: each change is stored with its practice, whose stream carries its events

    async def comment(
        self,
        practice_id: str,
        author_id: str,
        body: str,
        parent_id: str | None,
        correlation_id: str,
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
            await self.store.commit(
                [Change(practice, events), Change(comment, [], new=True)], correlation_id
            )
            return comment

        return await raced(attempt)

    async def edit_comment(
        self, comment_id: str, author_id: str, body: str, expected_version: int, correlation_id: str
    ) -> Comment:
        comment = await self.store.load(Comment, comment_id, expected_version)
        events = comment.edit(author_id, body, self.clock(), self.edit_window)
        await self._store_comment(comment, events, correlation_id)
        return comment

    async def flag_comment(
        self, comment_id: str, org_id: str, reason: str, correlation_id: str
    ) -> Comment:
        flagger = await self._org(org_id, "org_id")

        async def attempt() -> Comment:
            comment = await self.store.load(Comment, comment_id)
            events = comment.flag(flagger, reason, self.clock())
            await self._store_comment(comment, events, correlation_id, race=False)
            return comment

        return await raced(attempt)

    async def hide_comment(
        self, comment_id: str, moderator: str, reason: str, correlation_id: str
    ) -> Comment:
        async def attempt() -> Comment:
            comment = await self.store.load(Comment, comment_id)
            events = comment.hide(moderator, reason, self.clock())
            await self._store_comment(comment, events, correlation_id, race=False)
            return comment

        return await raced(attempt)

    async def _store_comment(
        self, comment: Comment, events: list[Event], correlation_id: str, *, race: bool = True
    ) -> None:
        """Store a changed comment with its practice, whose stream carries its events."""
        if not events:
            return  # nothing changed

        async def attempt() -> None:
            practice = await self.store.load(Practice, comment.practice_id)
            await self.store.commit(
                [Change(comment, []), Change(practice, practice.carry(events))], correlation_id
            )

        await (raced(attempt) if race else attempt())
