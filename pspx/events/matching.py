"""Events the matching service publishes."""

from __future__ import annotations

from typing import Literal

from pspx import topics
from pspx.events.base import Event, Payload


class TermWeight(Payload):
    term: str
    weight: float


class ShortlistEntry(Payload):
    partner_id: str
    score: float
    terms: list[TermWeight]


class ShortlistRanked(Event):
    """A need's current top partners, published when the need is posted or changes."""

    event_type = "matching.shortlist.ranked"
    topic = topics.MATCHES

    need_id: str
    commissioner_id: str
    entries: list[ShortlistEntry]


class MatchFound(Event):
    """A partner scored above the alert threshold for an open need.

    ``trigger`` says which side changed: a new or changed partner entering a need's
    shortlist, or a new need scoring an existing partner. Both sides are told.
    """

    event_type = "matching.match.found"
    topic = topics.MATCHES

    need_id: str
    commissioner_id: str
    partner_id: str
    score: float
    terms: list[TermWeight]
    trigger: Literal["partner", "need"]
