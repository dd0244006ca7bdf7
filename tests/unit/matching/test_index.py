"""The matching index folds events in idempotently and says what to publish."""

from __future__ import annotations

from pspx.events import Envelope, Event, new_envelope
from pspx.events.exchange import PracticePublished, PracticeSummary, PracticeWithdrawn
from pspx.events.matching import MatchFound, ShortlistRanked
from pspx.events.registry import (
    NeedClosed,
    NeedPosted,
    NeedState,
    NeedStatus,
    OrganisationProfile,
    OrganisationRegistered,
    OrganisationRemoved,
    OrganisationUpdated,
    OrgKind,
    Size,
)
from services.matching.documents import Query, need_query
from services.matching.index import MatchingIndex, Outgoing

COUNCIL = "GB-LAE-LDS"


def env(event: Event, aggregate_id: str, version: int = 1) -> Envelope:
    return new_envelope(event, aggregate_id=aggregate_id, aggregate_version=version, source="test")


def registered(
    org_id: str, name: str, description: str, kind: OrgKind = OrgKind.CHARITY
) -> Envelope:
    profile = OrganisationProfile(name=name, kind=kind, description=description)
    return env(OrganisationRegistered(id=org_id, profile=profile), org_id)


def need(
    need_id: str, title: str, version: int = 1, status: NeedStatus = NeedStatus.OPEN
) -> Envelope:
    state = NeedState(title=title, description=title, commissioner_id=COUNCIL, status=status)
    kind = NeedClosed if status is NeedStatus.CLOSED else NeedPosted
    return env(kind(id=need_id, need=state), need_id, version)


def practice(practice_id: str, author: str, title: str) -> Envelope:
    summary = PracticeSummary(
        title=title,
        summary=title,
        body=title,
        service_area=None,
        regions=[],
        tags=[],
        author_id=author,
        author_name=author,
    )
    return env(PracticePublished(id=practice_id, practice=summary), practice_id)


def fold(index: MatchingIndex, envelope: Envelope) -> list[Outgoing]:
    return index.apply(envelope, envelope.event())


def ids(index: MatchingIndex, text: str) -> list[str]:
    return [h.doc_id for h in index.partners.search(Query(text), 10)]


def test_partners_are_ranked_and_public_bodies_are_not() -> None:
    index = MatchingIndex()
    fold(index, registered("GB-CHC-1", "Food Bank", "emergency food parcels"))
    fold(index, registered(COUNCIL, "Leeds Council", "food parcels policy", OrgKind.PUBLIC_BODY))
    assert ids(index, "food parcels") == ["GB-CHC-1"]


def test_a_partners_size_band_comes_from_its_paid_staff() -> None:
    index = MatchingIndex()
    for org_id, size in [
        ("GB-CHC-1", Size(staff=12, volunteers=3)),
        ("GB-CHC-2", Size(staff=9)),
        ("GB-CHC-3", Size(volunteers=400)),  # volunteers are no staff figure
    ]:
        profile = OrganisationProfile(
            name="Club", kind=OrgKind.CHARITY, description="lunch club", size=size
        )
        fold(index, env(OrganisationRegistered(id=org_id, profile=profile), org_id))

    def sized(*sizes: str) -> list[str]:
        return sorted(h.doc_id for h in index.partners.search(need_query("", "lunch", sizes=sizes)))

    assert sized("small") == ["GB-CHC-1"]
    assert sized("micro") == ["GB-CHC-2"]
    assert sized("micro", "small", "medium", "large") == ["GB-CHC-1", "GB-CHC-2"]
    assert sized() == ["GB-CHC-1", "GB-CHC-2", "GB-CHC-3"]


def test_a_duplicate_or_older_event_changes_nothing() -> None:
    index = MatchingIndex()
    newer = OrganisationProfile(name="Food Bank", kind=OrgKind.CHARITY, description="hot meals")
    fold(index, registered("GB-CHC-1", "Food Bank", "emergency food parcels"))
    fold(index, env(OrganisationUpdated(id="GB-CHC-1", profile=newer), "GB-CHC-1", 2))
    stale = registered("GB-CHC-1", "Food Bank", "emergency food parcels")  # version 1 again
    assert fold(index, stale) == []
    assert ids(index, "parcels") == []
    assert ids(index, "hot meals") == ["GB-CHC-1"]


def test_removed_partners_disappear() -> None:
    index = MatchingIndex()
    fold(index, registered("GB-CHC-1", "Food Bank", "emergency food parcels"))
    fold(index, env(OrganisationRemoved(id="GB-CHC-1", name="Food Bank"), "GB-CHC-1", 2))
    assert ids(index, "food parcels") == []


def test_a_posted_need_gets_its_shortlist_and_alerts_once_per_version() -> None:
    index = MatchingIndex(alert_score=0.01)
    fold(index, registered("GB-CHC-1", "Befrienders", "befriending isolated older people"))
    out = fold(index, need("need-1", "befriending older people"))
    shortlist, alert = (o.event for o in out)
    assert isinstance(shortlist, ShortlistRanked) and isinstance(alert, MatchFound)
    assert shortlist.entries[0].partner_id == "GB-CHC-1"
    assert out[0].dedupe_key == "shortlist|need-1|1"
    assert alert.trigger == "need"
    assert fold(index, need("need-1", "befriending older people")) == []


def test_a_new_partner_entering_a_shortlist_is_alerted() -> None:
    index = MatchingIndex(alert_score=0.01)
    fold(index, need("need-1", "befriending older people"))
    out = fold(index, registered("GB-CHC-2", "Visitors", "befriending older people at home"))
    [outgoing] = out
    alert = outgoing.event
    assert isinstance(alert, MatchFound)
    assert alert.partner_id == "GB-CHC-2" and alert.trigger == "partner"
    assert outgoing.dedupe_key == "match|need-1|GB-CHC-2"


def test_a_closed_need_is_dropped() -> None:
    index = MatchingIndex()
    fold(index, need("need-1", "befriending"))
    fold(index, need("need-1", "befriending", version=2, status=NeedStatus.CLOSED))
    assert "need-1" not in index.needs


def test_practices_are_searchable_and_count_for_their_author() -> None:
    index = MatchingIndex()
    fold(index, registered("GB-CHC-1", "Youth Club", "sports for young people"))
    fold(index, practice("gp-1", "GB-CHC-1", "Allotment gardening for refugees"))
    assert [h.doc_id for h in index.practices.search(Query("allotment"), 5)] == ["gp-1"]
    assert ids(index, "allotment gardening") == ["GB-CHC-1"]
    fold(index, env(PracticeWithdrawn(id="gp-1", author_id="GB-CHC-1"), "gp-1", 2))
    assert ids(index, "allotment gardening") == []
    assert index.practices.search(Query("allotment"), 5) == []


def test_a_rebuild_from_the_log_equals_the_live_index() -> None:
    log = [
        practice("gp-1", "GB-CHC-1", "Allotment gardening for refugees"),  # before its author
        registered("GB-CHC-1", "Youth Club", "sports for young people"),
        registered("GB-CHC-2", "Garden Project", "community gardening"),
        need("need-1", "gardening with refugees"),
        need("need-2", "closed need", status=NeedStatus.CLOSED),
    ]
    live = MatchingIndex()
    for e in log:
        fold(live, e)
    rebuilt = MatchingIndex()
    rebuilt.load([(e, e.event()) for e in log + log])  # a duplicated log changes nothing
    assert ids(rebuilt, "allotment gardening refugees") == ids(live, "allotment gardening refugees")
    assert set(rebuilt.needs) == {"need-1"}
    ranked = rebuilt.ranked_for([(e, e.event()) for e in log if e.aggregate_id.startswith("need")])
    assert [o.dedupe_key for o in ranked if isinstance(o.event, ShortlistRanked)] == [
        "shortlist|need-1|1"
    ]


def test_a_partner_sees_the_open_needs_whose_shortlist_it_is_on() -> None:
    index = MatchingIndex()
    fold(index, registered("GB-CHC-1", "Food Bank", "emergency food parcels and hot meals"))
    fold(index, registered("GB-CHC-2", "Walkers", "walking groups for older people"))
    fold(index, need("N1", "emergency food parcels"))
    fold(index, need("N2", "hot meals"))
    fold(index, need("N3", "walking groups"))
    found = index.needs_for("GB-CHC-1")
    assert {n.id for n, _, _ in found} == {"N1", "N2"}
    assert [rank for _, rank, _ in found] == [1, 1]
    scores = [hit.score for _, _, hit in found]
    assert scores == sorted(scores, reverse=True)

    fold(index, need("N1", "emergency food parcels", version=2, status=NeedStatus.CLOSED))
    assert [n.id for n, _, _ in index.needs_for("GB-CHC-1")] == ["N2"]
    # A partner that changes is ranked afresh, not from the shortlist kept before.
    walkers = OrganisationProfile(name="Walkers", kind=OrgKind.CHARITY, description="hot meals")
    fold(index, env(OrganisationUpdated(id="GB-CHC-2", profile=walkers), "GB-CHC-2", 2))
    assert [n.id for n, _, _ in index.needs_for("GB-CHC-2")] == ["N2"]
