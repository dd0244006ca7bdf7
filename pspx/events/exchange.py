"""Events the innovation exchange publishes, keyed by practice id.

A practice's dialogue (comments, their edits, flags and moderation) travels on
the practice's own stream, so a reader sees it in order with the practice.
Comment events carry what a subscriber shows (author, an excerpt, the parent)
without another call.
"""

from __future__ import annotations

from datetime import datetime

from pspx import topics
from pspx.events.base import Event, Payload
from pspx.events.registry import OrgKind


class PracticeSummary(Payload):
    """What readers of the practice stream need (matching indexes it)."""

    title: str
    summary: str
    body: str  # plain text: the Markdown body without its markup
    service_area: str | None
    regions: list[str]
    tags: list[str]
    author_id: str
    author_name: str


class PracticePublished(Event):
    event_type = "practice.published"
    topic = topics.PRACTICES

    id: str
    practice: PracticeSummary


class PracticeUpdated(Event):
    event_type = "practice.updated"
    topic = topics.PRACTICES

    id: str
    practice: PracticeSummary


class PracticeWithdrawn(Event):
    event_type = "practice.withdrawn"
    topic = topics.PRACTICES

    id: str
    author_id: str


class PracticeEndorsed(Event):
    event_type = "practice.endorsed"
    topic = topics.PRACTICES

    id: str
    endorser_id: str
    endorsed: bool  # False when an endorsement is withdrawn
    endorsements: int
    at: datetime


class PracticeCommented(Event):
    event_type = "practice.commented"
    topic = topics.PRACTICES

    id: str
    comment_id: str
    author_id: str
    parent_id: str | None
    at: datetime
    # Added after the first release; defaults keep earlier records readable.
    author_name: str = ""
    author_kind: OrgKind | None = None
    number: int | None = None
    excerpt: str = ""


class CommentEdited(Event):
    event_type = "practice.comment_edited"
    topic = topics.PRACTICES

    id: str
    comment_id: str
    author_id: str
    excerpt: str
    at: datetime


class CommentFlagged(Event):
    """An organisation asked a moderator to look at a comment."""

    event_type = "practice.comment_flagged"
    topic = topics.PRACTICES

    id: str
    comment_id: str
    flagged_by: str
    reason: str
    flags: int
    at: datetime


class CommentHidden(Event):
    """A moderator hid a comment from readers; it is kept, with who hid it and why."""

    event_type = "practice.comment_hidden"
    topic = topics.PRACTICES

    id: str
    comment_id: str
    moderator: str
    reason: str
    at: datetime
