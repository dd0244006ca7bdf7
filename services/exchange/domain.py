"""Exchange domain: good-practice posts, endorsements and comments. No I/O.

Each command method checks its rules, changes the aggregate, bumps its version
and returns the events that the change raised; the caller stores both together.
Creation is a class method that returns the new aggregate and its events.
Every event on the practice stream bumps the practice's version, so the
``aggregate_version`` that readers guard on rises strictly per practice; a
comment's events travel on its practice's stream (``Practice.carry``).
Commands take the time as an argument (``at``): the service reads its clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from pspx.domain import Aggregate
from pspx.errors import AlreadyExists, DomainError, Forbidden, NotFound
from pspx.events import Count, Event, Measure, Money
from pspx.events.exchange import (
    CommentEdited,
    CommentFlagged,
    CommentHidden,
    PracticeCommented,
    PracticeEndorsed,
    PracticePublished,
    PracticeSummary,
    PracticeUpdated,
    PracticeWithdrawn,
)
from pspx.events.registry import OrgKind
from pspx.markdown import plain_text, render

TITLE_MAX = 200
SUMMARY_MAX = 1_000
BODY_MAX_BYTES = 100 * 1024
TAGS_MAX = 20
COMMENT_MAX = 10_000
COMMENT_EDIT_WINDOW = timedelta(minutes=15)
EXCERPT_MAX = 280

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=500)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def _within_bytes(value: str, limit: int) -> str:
    size = len(value.encode())
    if size > limit:
        raise ValueError(f"must be at most {limit // 1024} KB of UTF-8 text; it is {size} bytes")
    return value


def excerpt(markdown: str) -> str:
    """The start of a text without its markup: what an alert or a listing shows."""
    text = " ".join(plain_text(markdown).split())
    return text if len(text) <= EXCERPT_MAX else text[: EXCERPT_MAX - 1].rstrip() + "…"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


# --- organisations (the replica the registry's events feed) ----------------------------------


class Organisation(BaseModel):
    """What the exchange knows of an organisation: enough to decide who may do what."""

    id: str
    name: str
    kind: OrgKind | None = None  # unknown only if a removal arrived before any registration
    removed: bool = False
    version: int = 0

    def may_author(self) -> None:
        self._live("author_id")
        if self.kind is None or not self.kind.is_third_sector:
            raise Forbidden(
                f"{self.id} is a {self.kind or 'unknown kind of organisation'}; only "
                "third-sector organisations author good practice",
                field="author_id",
            )

    def may_endorse(self) -> None:
        self._live("endorser_id")
        if self.kind is not OrgKind.PUBLIC_BODY:
            raise Forbidden(
                f"{self.id} is not a public body; only commissioners endorse good practice",
                field="endorser_id",
            )

    def may_comment(self) -> None:
        self._live("author_id")

    def _live(self, field: str) -> None:
        if self.removed:
            raise Forbidden(f"organisation {self.id} has been removed", field=field)


# --- practices -------------------------------------------------------------------------------


class QualityMeasure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(examples=["Wellbeing score (WEMWBS), mean change"])
    value: Measure
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] = ""


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Text
    url: Url


class Evidence(BaseModel):
    """What the practice achieved, and where its evaluations can be read."""

    model_config = ConfigDict(extra="forbid")

    people_served: Count | None = None
    cost_savings_gbp: Money | None = None
    quality_measures: list[QualityMeasure] = Field(default_factory=list, max_length=50)
    evaluations: list[Evaluation] = Field(default_factory=list, max_length=20)


class PracticeContent(BaseModel):
    """What an author writes. ``body`` is Markdown; it is stored as written and rendered safely."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)
    ]
    summary: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SUMMARY_MAX)
    ]
    body: Annotated[str, StringConstraints(min_length=1)] = Field(
        description=f"Markdown, at most {BODY_MAX_BYTES // 1024} KB; raw HTML is shown as text"
    )
    service_area: Text | None = None
    regions: list[Text] = Field(default_factory=list, max_length=50)
    outcomes: list[Text] = Field(default_factory=list, max_length=50)
    evidence: Evidence = Field(default_factory=lambda: Evidence())
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)

    @field_validator("body")
    @classmethod
    def _body_size(cls, value: str) -> str:
        return _within_bytes(value, BODY_MAX_BYTES)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        # Lower-cased and de-duplicated so that filters and the index see one spelling.
        return list(dict.fromkeys(t.lower() for t in value))


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Endorsement(BaseModel):
    endorser_id: str
    endorser_name: str
    at: datetime


class Practice(Aggregate):
    author_id: str
    author_name: str = Field(description="The author's name when the practice last changed")
    content: PracticeContent
    body_html: str = Field(description="The body rendered from Markdown and sanitised")
    status: Status = Status.DRAFT
    endorsements: list[Endorsement] = Field(default_factory=list)
    endorsement_count: int = 0
    comment_count: int = 0
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None

    @classmethod
    def draft(
        cls, practice_id: str, author: Organisation, content: PracticeContent, at: datetime
    ) -> tuple[Practice, list[Event]]:
        """A new draft: the author's own, so nobody else hears of it (no event)."""
        author.may_author()
        practice = cls(
            id=practice_id,
            author_id=author.id,
            author_name=author.name,
            content=content,
            body_html=render(content.body),
            created_at=at,
            updated_at=at,
        )
        practice._bump()
        return practice, []

    def publish(self, author: Organisation, at: datetime) -> list[Event]:
        self._by_author(author)
        if self.status is not Status.DRAFT:
            raise DomainError(f"practice {self.id} is {self.status}; only a draft is published")
        self.status = Status.PUBLISHED
        self.author_name = author.name
        self.published_at = self.updated_at = at
        self._bump()
        return [PracticePublished(id=self.id, practice=self.summary())]

    def revise(self, author: Organisation, content: PracticeContent, at: datetime) -> list[Event]:
        self._by_author(author)
        if self.status is Status.WITHDRAWN:
            raise DomainError(f"practice {self.id} has been withdrawn")
        if content == self.content and author.name == self.author_name:
            return []
        self.content = content
        self.body_html = render(content.body)
        self.author_name = author.name
        self.updated_at = at
        self._bump()
        if self.status is Status.DRAFT:
            return []  # drafts are the author's own: nobody else hears of them
        return [PracticeUpdated(id=self.id, practice=self.summary())]

    def withdraw(self, author: Organisation, at: datetime) -> list[Event]:
        self._by_author(author)
        self._published()
        self.status = Status.WITHDRAWN
        self.withdrawn_at = self.updated_at = at
        self._bump()
        return [PracticeWithdrawn(id=self.id, author_id=self.author_id)]

    def endorse(self, endorser: Organisation, at: datetime) -> list[Event]:
        endorser.may_endorse()
        self._published()
        if any(e.endorser_id == endorser.id for e in self.endorsements):
            raise AlreadyExists(
                f"{endorser.id} has already endorsed practice {self.id}", field="endorser_id"
            )
        self.endorsements.append(
            Endorsement(endorser_id=endorser.id, endorser_name=endorser.name, at=at)
        )
        return self._endorsement_changed(endorser.id, endorsed=True, at=at)

    def withdraw_endorsement(self, endorser_id: str, at: datetime) -> list[Event]:
        kept = [e for e in self.endorsements if e.endorser_id != endorser_id]
        if len(kept) == len(self.endorsements):
            raise NotFound(
                f"{endorser_id} has not endorsed practice {self.id}", field="endorser_id"
            )
        self.endorsements = kept
        return self._endorsement_changed(endorser_id, endorsed=False, at=at)

    def comment(
        self,
        comment_id: str,
        author: Organisation,
        body: str,
        at: datetime,
        parent: Comment | None = None,
    ) -> tuple[Comment, list[Event]]:
        """A new comment in this practice's dialogue, as a reply to ``parent`` if given."""
        author.may_comment()
        self._published()
        if parent is not None:
            if parent.practice_id != self.id:
                raise DomainError(
                    f"comment {parent.id} belongs to another practice", field="parent_id"
                )
            if parent.hidden is not None:
                raise DomainError(f"comment {parent.id} has been hidden", field="parent_id")
        self.comment_count += 1
        comment = Comment(
            id=comment_id,
            practice_id=self.id,
            number=self.comment_count,
            parent_id=parent.id if parent else None,
            author_id=author.id,
            author_name=author.name,
            author_kind=author.kind,
            body=body,
            body_html=render(body),
            created_at=at,
        )
        comment._bump()
        self._bump()
        event = PracticeCommented(
            id=self.id,
            comment_id=comment.id,
            author_id=author.id,
            author_name=author.name,
            author_kind=author.kind,
            parent_id=comment.parent_id,
            number=comment.number,
            excerpt=excerpt(body),
            at=at,
        )
        return comment, [event]

    def carry(self, events: list[Event]) -> list[Event]:
        """Put a comment's events on this practice's stream: they raise its version."""
        if events:
            self._bump()
        return events

    def summary(self) -> PracticeSummary:
        c = self.content
        return PracticeSummary(
            title=c.title,
            summary=c.summary,
            body=plain_text(c.body),
            service_area=c.service_area,
            regions=c.regions,
            tags=c.tags,
            author_id=self.author_id,
            author_name=self.author_name,
        )

    def _endorsement_changed(
        self, endorser_id: str, *, endorsed: bool, at: datetime
    ) -> list[Event]:
        self.endorsement_count = len(self.endorsements)
        self._bump()
        return [
            PracticeEndorsed(
                id=self.id,
                endorser_id=endorser_id,
                endorsed=endorsed,
                endorsements=self.endorsement_count,
                at=at,
            )
        ]

    def _by_author(self, author: Organisation) -> None:
        if author.id != self.author_id:
            raise Forbidden(
                f"only the author ({self.author_id}) changes practice {self.id}", field="author_id"
            )
        author.may_author()

    def _published(self) -> None:
        if self.status is not Status.PUBLISHED:
            raise DomainError(f"practice {self.id} is {self.status}, not published")


# --- comments --------------------------------------------------------------------------------

CommentBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX)
]


class Flag(BaseModel):
    org_id: str
    reason: str
    at: datetime


class Moderation(BaseModel):
    moderator: str
    reason: str
    at: datetime


class Comment(Aggregate):
    practice_id: str
    number: int = Field(description="Its place in the practice's dialogue, from 1")
    parent_id: str | None = None
    author_id: str
    author_name: str
    author_kind: OrgKind | None = Field(
        None, description="The author's kind of organisation: which sector is speaking"
    )
    body: str
    body_html: str
    created_at: datetime
    edited_at: datetime | None = None
    flags: list[Flag] = Field(default_factory=list)
    hidden: Moderation | None = None

    def edit(
        self, author_id: str, body: str, at: datetime, window: timedelta = COMMENT_EDIT_WINDOW
    ) -> list[Event]:
        if author_id != self.author_id:
            raise Forbidden(f"only its author edits comment {self.id}", field="author_id")
        if self.hidden is not None:
            raise DomainError(f"comment {self.id} has been hidden by a moderator")
        if at > self.created_at + window:
            raise DomainError(
                f"a comment can be edited for {_duration(window)} after it is posted; "
                "that time has passed",
                field="body",
            )
        if body == self.body:
            return []
        self.body = body
        self.body_html = render(body)
        self.edited_at = at
        self._bump()
        return [
            CommentEdited(
                id=self.practice_id,
                comment_id=self.id,
                author_id=self.author_id,
                excerpt=excerpt(body),
                at=at,
            )
        ]

    def flag(self, flagger: Organisation, reason: str, at: datetime) -> list[Event]:
        """Ask a moderator to look; flagging the same comment again changes nothing."""
        flagger.may_comment()
        if any(f.org_id == flagger.id for f in self.flags):
            return []
        self.flags.append(Flag(org_id=flagger.id, reason=reason, at=at))
        self._bump()
        return [
            CommentFlagged(
                id=self.practice_id,
                comment_id=self.id,
                flagged_by=flagger.id,
                reason=reason,
                flags=len(self.flags),
                at=at,
            )
        ]

    def hide(self, moderator: str, reason: str, at: datetime) -> list[Event]:
        """Hide the comment from readers; it is kept, with who hid it and why."""
        if self.hidden is not None:
            return []
        self.hidden = Moderation(moderator=moderator, reason=reason, at=at)
        self._bump()
        return [
            CommentHidden(
                id=self.practice_id, comment_id=self.id, moderator=moderator, reason=reason, at=at
            )
        ]
