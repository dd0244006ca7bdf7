"""Events the innovation exchange publishes, keyed by practice id."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from pspx import topics
from pspx.events.base import Event


class PracticeSummary(BaseModel):
    """What readers of the practice stream need (matching indexes it)."""

    model_config = ConfigDict(frozen=True)

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
