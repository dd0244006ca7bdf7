"""The exchange's rules, without I/O: practice states, endorsements, comments, moderation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from pspx.errors import AlreadyExists, DomainError, Forbidden, NotFound, StaleVersion
from pspx.events.exchange import (
    CommentEdited,
    CommentFlagged,
    CommentHidden,
    PracticeCommented,
    PracticeEndorsed,
    PracticePublished,
    PracticeUpdated,
    PracticeWithdrawn,
)
from pspx.events.registry import OrgKind
from services.exchange.domain import (
    BODY_MAX_BYTES,
    EXCERPT_MAX,
    TAGS_MAX,
    TITLE_MAX,
    Organisation,
    Practice,
    PracticeContent,
    Status,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHARITY = Organisation(id="GB-SC-SC012345", name="Fife Befriending", kind=OrgKind.CHARITY)
OTHER_CHARITY = Organisation(id="GB-CHC-1000003", name="Age Concern", kind=OrgKind.CHARITY)
COUNCIL = Organisation(id="GB-LAS-FIFE", name="Fife Council", kind=OrgKind.PUBLIC_BODY)
NHS = Organisation(id="GB-NHS-FIFE", name="NHS Fife", kind=OrgKind.PUBLIC_BODY)


def content(**overrides: object) -> PracticeContent:
    values: dict[str, object] = {
        "title": "Telephone befriending for isolated older people",
        "summary": "Weekly calls by trained volunteers cut loneliness scores by a third.",
        "body": "## What we did\n\nWeekly **calls**.",
        "service_area": "Older people",
        "regions": ["Scotland"],
        "tags": ["Loneliness", "volunteering", "loneliness"],
    }
    values.update(overrides)
    return PracticeContent.model_validate(values)


def draft() -> Practice:
    practice, events = Practice.draft("gp-000000000001", CHARITY, content(), T0)
    assert events == []  # a draft is its author's own: nobody else hears of it
    return practice


def published() -> Practice:
    practice = draft()
    practice.publish(CHARITY, T0)
    return practice


def test_a_draft_raises_no_event_until_published_then_updates_and_withdraws() -> None:
    practice = draft()
    assert practice.status is Status.DRAFT and practice.version == 1
    assert practice.revise(CHARITY, content(title="Phone befriending"), T0) == []
    assert practice.version == 2

    [event] = practice.publish(CHARITY, T0 + timedelta(minutes=1))
    assert isinstance(event, PracticePublished)
    assert event.practice.title == "Phone befriending"
    assert event.practice.author_name == "Fife Befriending"
    assert event.practice.body == "What we did\nWeekly calls."  # plain text for the index
    assert practice.published_at == T0 + timedelta(minutes=1)

    [updated] = practice.revise(CHARITY, content(summary="Now in Dundee too."), T0)
    assert isinstance(updated, PracticeUpdated) and updated.practice.summary == "Now in Dundee too."
    assert practice.revise(CHARITY, content(summary="Now in Dundee too."), T0) == []

    [withdrawn] = practice.withdraw(CHARITY, T0)
    assert isinstance(withdrawn, PracticeWithdrawn) and practice.status is Status.WITHDRAWN
    with pytest.raises(DomainError):
        practice.revise(CHARITY, content(), T0)
    with pytest.raises(DomainError):
        practice.publish(CHARITY, T0)
    with pytest.raises(DomainError):
        practice.withdraw(CHARITY, T0)


def test_only_a_live_third_sector_organisation_authors() -> None:
    with pytest.raises(Forbidden) as refused:
        Practice.draft("gp-1", COUNCIL, content(), T0)
    assert refused.value.field == "author_id"
    gone = CHARITY.model_copy(update={"removed": True})
    with pytest.raises(Forbidden):
        Practice.draft("gp-1", gone, content(), T0)


def test_only_the_author_changes_a_practice() -> None:
    practice = published()
    with pytest.raises(Forbidden):
        practice.revise(OTHER_CHARITY, content(title="Mine now"), T0)
    with pytest.raises(Forbidden):
        practice.withdraw(OTHER_CHARITY, T0)
    assert practice.status is Status.PUBLISHED


def test_a_change_against_an_old_version_is_refused() -> None:
    practice = published()
    with pytest.raises(StaleVersion):
        practice.expect(1)
    practice.expect(practice.version)


def test_a_commissioner_endorses_once_and_may_withdraw() -> None:
    practice = published()
    version = practice.version
    [event] = practice.endorse(COUNCIL, T0)
    assert isinstance(event, PracticeEndorsed)
    assert (event.endorsed, event.endorsements) == (True, 1)
    assert practice.version == version + 1
    with pytest.raises(AlreadyExists):
        practice.endorse(COUNCIL, T0)
    practice.endorse(NHS, T0)
    assert practice.endorsement_count == 2

    [withdrawn] = practice.withdraw_endorsement(COUNCIL.id, T0)
    assert isinstance(withdrawn, PracticeEndorsed)
    assert (withdrawn.endorsed, withdrawn.endorsements) == (False, 1)
    with pytest.raises(NotFound):
        practice.withdraw_endorsement(COUNCIL.id, T0)
    practice.endorse(COUNCIL, T0)  # endorsing again after withdrawing is allowed
    assert practice.endorsement_count == 2


def test_only_public_bodies_endorse_and_only_published_practice() -> None:
    practice = published()
    with pytest.raises(Forbidden):
        practice.endorse(OTHER_CHARITY, T0)
    other, _ = Practice.draft("gp-2", CHARITY, content(), T0)
    with pytest.raises(DomainError):
        other.endorse(COUNCIL, T0)


def test_comments_thread_and_raise_an_event_on_the_practice_stream() -> None:
    practice = published()
    version = practice.version
    first, [event] = practice.comment("cm-1", COUNCIL, "How did you *recruit*?", T0)
    assert isinstance(event, PracticeCommented) and event.parent_id is None
    # What a subscriber shows, without asking the exchange: who, where, and the words.
    assert (event.author_name, event.author_kind, event.number) == (
        COUNCIL.name,
        OrgKind.PUBLIC_BODY,
        1,
    )
    assert event.excerpt == "How did you recruit?"
    assert practice.version == version + 1 and practice.comment_count == 1
    assert first.author_kind is OrgKind.PUBLIC_BODY
    assert first.body_html == "<p>How did you <em>recruit</em>?</p>\n"

    reply, [answered] = practice.comment("cm-2", CHARITY, "Through GPs.", T0, parent=first)
    assert isinstance(answered, PracticeCommented)
    assert reply.parent_id == "cm-1" and answered.parent_id == "cm-1"

    elsewhere, _ = Practice.draft("gp-000000000002", CHARITY, content(), T0)
    elsewhere.publish(CHARITY, T0)
    with pytest.raises(DomainError) as refused:
        elsewhere.comment("cm-3", CHARITY, "Wrong thread", T0, parent=first)
    assert refused.value.field == "parent_id"


def test_a_comment_is_editable_by_its_author_within_the_window_only() -> None:
    comment, _ = published().comment("cm-1", COUNCIL, "First thoughts", T0)
    window = timedelta(minutes=15)
    [edited] = comment.edit(COUNCIL.id, "Second **thoughts**", T0 + window, window)
    assert isinstance(edited, CommentEdited)
    assert (edited.id, edited.comment_id, edited.excerpt) == (
        comment.practice_id,
        "cm-1",
        "Second thoughts",
    )
    assert comment.body == "Second **thoughts**" and comment.edited_at == T0 + window
    assert comment.edit(COUNCIL.id, "Second **thoughts**", T0, window) == []  # no change
    with pytest.raises(Forbidden):
        comment.edit(CHARITY.id, "Not yours", T0, window)
    with pytest.raises(DomainError) as late:
        comment.edit(COUNCIL.id, "Too late", T0 + window + timedelta(seconds=1), window)
    assert "15 minutes" in str(late.value)
    assert comment.body == "Second **thoughts**"


def test_moderation_hides_without_deleting_and_flags_count_once() -> None:
    practice = published()
    comment, _ = practice.comment("cm-1", CHARITY, "Rude words", T0)
    [flagged] = comment.flag(COUNCIL, "abusive", T0)
    assert isinstance(flagged, CommentFlagged)
    assert (flagged.flagged_by, flagged.reason, flagged.flags) == (COUNCIL.id, "abusive", 1)
    assert comment.flag(COUNCIL, "abusive again", T0) == []
    assert len(comment.flags) == 1
    [hidden] = comment.hide("operator-1", "abusive language", T0)
    assert isinstance(hidden, CommentHidden) and hidden.moderator == "operator-1"
    assert comment.hide("operator-2", "again", T0) == []
    assert comment.hidden is not None and comment.hidden.moderator == "operator-1"
    assert comment.body == "Rude words"  # kept for the record
    with pytest.raises(DomainError):
        comment.edit(CHARITY.id, "Sorry", T0, timedelta(minutes=15))
    with pytest.raises(DomainError):
        practice.comment("cm-2", COUNCIL, "Replying", T0, parent=comment)


def test_a_comment_on_a_draft_is_refused() -> None:
    other, _ = Practice.draft("gp-2", CHARITY, content(), T0)
    with pytest.raises(DomainError):
        other.comment("cm-1", COUNCIL, "Hello", T0)


def test_tags_are_normalised() -> None:
    assert content().tags == ["loneliness", "volunteering"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "x" * (TITLE_MAX + 1)}, "title"),
        ({"body": "x" * (BODY_MAX_BYTES + 1)}, "body"),
        ({"body": "é" * (BODY_MAX_BYTES // 2 + 1)}, "body"),  # bytes, not characters
        ({"tags": [f"t{i}" for i in range(TAGS_MAX + 1)]}, "tags"),
        ({"title": "   "}, "title"),
        ({"evidence": {"people_served": -1}}, "evidence.people_served"),
        ({"evidence": {"evaluations": [{"title": "E", "url": "javascript:x"}]}}, "evidence"),
    ],
)
def test_size_and_shape_limits_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        content(**overrides)
    located = [".".join(str(p) for p in e["loc"]) for e in refused.value.errors()]
    assert any(loc.startswith(field) for loc in located), located


def test_limits_admit_the_largest_valid_practice() -> None:
    big = content(
        title="x" * TITLE_MAX, body="x" * BODY_MAX_BYTES, tags=[f"t{i}" for i in range(TAGS_MAX)]
    )
    assert len(big.tags) == TAGS_MAX


def test_a_comment_change_rides_on_its_practice_stream() -> None:
    practice = published()
    comment, _ = practice.comment("cm-1", COUNCIL, "Hello", T0)
    version = practice.version
    events = comment.flag(CHARITY, "spam", T0)
    assert practice.carry(events) == events and practice.version == version + 1
    assert practice.carry([]) == [] and practice.version == version + 1


def test_a_long_comment_is_excerpted() -> None:
    _, [event] = published().comment("cm-1", COUNCIL, "word " * 200, T0)
    assert isinstance(event, PracticeCommented)
    assert len(event.excerpt) == EXCERPT_MAX and event.excerpt.endswith("…")
