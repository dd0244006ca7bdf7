"""The matching service's state, fed by events. Pure: no I/O.

Two engines (partners, practices), the open needs, and the newest version
applied per aggregate. ``apply`` folds one event in and returns the events the
change calls for (shortlists and match alerts); applying an event twice, or an
older version after a newer one, changes nothing and returns nothing. The
read methods at the end are what the HTTP API's queries ask of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pspx.events import Envelope, Event
from pspx.events.exchange import PracticePublished, PracticeUpdated, PracticeWithdrawn
from pspx.events.matching import MatchFound, ShortlistEntry, ShortlistRanked, TermWeight
from pspx.events.registry import (
    NeedClosed,
    NeedPosted,
    NeedState,
    NeedStatus,
    NeedUpdated,
    OrganisationProfile,
    OrganisationRegistered,
    OrganisationRemoved,
    OrganisationUpdated,
    size_band,
)
from services.matching.documents import (
    PRACTICE_SCHEMA,
    Document,
    Query,
    need_query,
    partner_document,
    practice_document,
    practice_text,
)
from services.matching.engine import Engine, Hit

SHORTLIST_SIZE = 20

# The event types the index folds in; the consumer skips any other.
FOLDS: tuple[type[Event], ...] = (
    OrganisationRegistered,
    OrganisationUpdated,
    OrganisationRemoved,
    NeedPosted,
    NeedUpdated,
    NeedClosed,
    PracticePublished,
    PracticeUpdated,
    PracticeWithdrawn,
)
# A need posted or changed: ranked once across replicas (the ranking consumer group).
NEED_EVENTS: tuple[type[Event], ...] = (NeedPosted, NeedUpdated, NeedClosed)


@dataclass(frozen=True)
class Outgoing:
    """An event this service should publish, with what makes it unique.

    ``dedupe_key`` names the fact (a need's shortlist at a version, or one
    need-partner alert) so a replay never publishes it twice.
    """

    event: ShortlistRanked | MatchFound
    need_id: str
    need_version: int
    dedupe_key: str


@dataclass
class Need:
    id: str
    state: NeedState
    version: int

    def query(self, **filters: Sequence[str]) -> Query:
        s = self.state
        return need_query(
            s.title,
            s.description,
            s.outcomes,
            regions=filters.get("regions", ()),
            kinds=filters.get("kinds", ()),
            service_areas=filters.get("service_areas", ()),
            sizes=filters.get("sizes", ()),
        )


def partner_doc(org_id: str, p: OrganisationProfile, practices: dict[str, str]) -> Document:
    return partner_document(
        org_id,
        p.name,
        p.kind.value,
        p.description,
        activities=p.activities,
        service_areas=p.service_areas,
        regions=p.regions,
        alternate_names=[*p.alternate_names, *p.former_names],
        practices=practices,
        size=size_band(p.size.staff),
    )


def terms(hit: Hit) -> list[TermWeight]:
    return [TermWeight(term=t.word, weight=round(t.weight, 6)) for t in hit.terms]


@dataclass
class MatchingIndex:
    alert_score: float = 0.2
    partners: Engine = field(default_factory=Engine)
    practices: Engine = field(default_factory=lambda: Engine(PRACTICE_SCHEMA))
    needs: dict[str, Need] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, OrganisationProfile] = field(default_factory=dict)
    # author id -> practice id -> the text that practice adds to its author's document
    practice_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    practice_authors: dict[str, str] = field(default_factory=dict)
    # A need's shortlist is ranked again only when the need or the partner engine changed:
    # need id -> (need version, the engine's revision, hits).
    shortlists: dict[str, tuple[int, int, list[Hit]]] = field(default_factory=dict)

    # --- folding events in ---------------------------------------------------------------

    def is_new(self, envelope: Envelope) -> bool:
        return envelope.aggregate_version > self.versions.get(envelope.aggregate_id, 0)

    def apply(self, envelope: Envelope, event: Event, *, live: bool = True) -> list[Outgoing]:
        """Fold one event in; returns what to publish (nothing for a stale event).

        With ``live=False`` (a replay being loaded) only the state is kept: the
        partner engine is built once at the end (``build``) and nothing is
        ranked per event.
        """
        if live:
            return self.apply_batch([(envelope, event)])
        self._fold(envelope, event, live=False)
        return []

    def apply_batch(self, events: Iterable[tuple[Envelope, Event]]) -> list[Outgoing]:
        """Fold a batch in live, then rank once for all of it (``fold_batch``, then
        ``ranked_for`` what the batch names)."""
        return self.ranked_for(self.fold_batch(events))

    def fold_batch(self, events: Iterable[tuple[Envelope, Event]]) -> list[tuple[Envelope, Event]]:
        """Fold a batch in live, ranking nothing; returns the events that changed a partner
        or a need (not a repeat, not an older version)."""
        return [(e, ev) for e, ev in events if self._fold(e, ev, live=True)]

    def folded(self, events: Iterable[tuple[Envelope, Event]]) -> bool:
        """Whether every event is in, or was overtaken by a newer version of its aggregate."""
        return all(self.versions.get(e.aggregate_id, 0) >= e.aggregate_version for e, _ in events)

    def ranked_for(self, events: Iterable[tuple[Envelope, Event]]) -> list[Outgoing]:
        """What to publish for the needs and partners that events name, once they are folded
        in: each open need named gets its shortlist and alerts, and every other open need is
        searched once for the partners named."""
        needs: set[str] = set()
        partners: set[str] = set()
        for envelope, event in events:
            named = needs if isinstance(event, NEED_EVENTS) else partners
            named.add(envelope.aggregate_id)
        out = [o for n in sorted(needs) if n in self.needs for o in self._ranked(self.needs[n])]
        ranked = partners & self.profiles.keys()  # removed ones and public bodies are not
        if ranked:
            out += self._partner_alerts(ranked, skip=needs)
        return out

    def load(self, events: Iterable[tuple[Envelope, Event]]) -> None:
        """Rebuild from a replay: fold everything in, then build in one fit."""
        for envelope, event in events:
            self.apply(envelope, event, live=False)
        self.build()

    def build(self) -> None:
        """Build the engines from the state folded so far, in one fit."""
        self.partners.build(
            partner_doc(org_id, p, self._practices_of(org_id))
            for org_id, p in self.profiles.items()
        )
        self.practices.refit()

    def _fold(self, envelope: Envelope, event: Event, *, live: bool) -> set[str]:
        """Keep what one event says; returns the partner or need it changed, if any."""
        if not self.is_new(envelope):
            return set()
        self.versions[envelope.aggregate_id] = envelope.aggregate_version
        match event:
            case OrganisationRegistered() | OrganisationUpdated():
                return self._partner_changed(event.id, event.profile, live)
            case OrganisationRemoved():
                self.profiles.pop(event.id, None)
                if live:
                    self.partners.remove(event.id)
            case NeedPosted() | NeedUpdated() | NeedClosed():
                self._set_need(event.id, event.need, envelope.aggregate_version)
                return {event.id}
            case PracticePublished() | PracticeUpdated():
                self._practice_changed(event, live)
            case PracticeWithdrawn():
                self.practices.remove(event.id)
                self._unlink_practice(event.id, live)
        return set()

    def _practices_of(self, org_id: str) -> dict[str, str]:
        return dict(self.practice_texts.get(org_id, {}))

    def _partner_changed(self, org_id: str, profile: OrganisationProfile, live: bool) -> set[str]:
        if not profile.kind.is_third_sector:
            # Public bodies and private firms are not ranked as partners.
            self.profiles.pop(org_id, None)
            if live:
                self.partners.remove(org_id)
            return set()
        self.profiles[org_id] = profile
        if live:
            self.partners.upsert(partner_doc(org_id, profile, self._practices_of(org_id)))
        return {org_id}

    def _set_need(self, need_id: str, state: NeedState, version: int) -> Need | None:
        if state.status is NeedStatus.CLOSED:
            self.needs.pop(need_id, None)
            self.shortlists.pop(need_id, None)
            return None
        need = Need(need_id, state, version)
        self.needs[need_id] = need
        return need

    def _practice_changed(self, event: PracticePublished | PracticeUpdated, live: bool) -> None:
        p = event.practice
        self.practices.upsert(
            practice_document(
                event.id,
                p.title,
                p.summary,
                p.body,
                service_area=p.service_area,
                regions=p.regions,
                tags=p.tags,
                author=p.author_id,
            )
        )
        self._unlink_practice(event.id, live)  # its author or text may have changed
        text = practice_text(p.title, p.summary)
        self.practice_texts.setdefault(p.author_id, {})[event.id] = text
        self.practice_authors[event.id] = p.author_id
        if live:
            self.partners.attach(p.author_id, event.id, text)

    def _unlink_practice(self, practice_id: str, live: bool) -> None:
        """Take a practice's text out of its author's partner document."""
        author = self.practice_authors.pop(practice_id, None)
        if author is not None:
            self.practice_texts.get(author, {}).pop(practice_id, None)
            if live:
                self.partners.detach(author, practice_id)

    # --- what to publish -----------------------------------------------------------------

    def _ranked(self, need: Need) -> list[Outgoing]:
        """A need's shortlist, and an alert for each partner on it above the alert score."""
        hits = self.shortlist(need)
        shortlist = ShortlistRanked(
            need_id=need.id,
            commissioner_id=need.state.commissioner_id,
            entries=[
                ShortlistEntry(partner_id=h.doc_id, score=round(h.score, 6), terms=terms(h))
                for h in hits
            ],
        )
        out = [Outgoing(shortlist, need.id, need.version, f"shortlist|{need.id}|{need.version}")]
        out += [self._alert(need, h, "need") for h in hits if h.score >= self.alert_score]
        return out

    def _partner_alerts(self, partner_ids: set[str], skip: set[str]) -> list[Outgoing]:
        """Open needs (other than ``skip``) whose shortlist a changed partner now enters
        above the alert score: one search per need, however many partners changed."""
        out = []
        for need in self.needs.values():
            if need.id in skip:
                continue
            for hit in self.shortlist(need):
                if hit.doc_id in partner_ids and hit.score >= self.alert_score:
                    out.append(self._alert(need, hit, "partner"))
        return out

    def _alert(self, need: Need, hit: Hit, trigger: Literal["partner", "need"]) -> Outgoing:
        found = MatchFound(
            need_id=need.id,
            commissioner_id=need.state.commissioner_id,
            partner_id=hit.doc_id,
            score=round(hit.score, 6),
            terms=terms(hit),
            trigger=trigger,
        )
        return Outgoing(found, need.id, need.version, f"match|{need.id}|{hit.doc_id}")

    # --- what the queries read -----------------------------------------------------------

    def shortlist(self, need: Need) -> list[Hit]:
        """The partners best ranked for a need, searched again only after a change."""
        cached = self.shortlists.get(need.id)
        revision = self.partners.revision
        if cached and cached[:2] == (need.version, revision):
            return cached[2]
        hits = self.partners.search(need.query(), SHORTLIST_SIZE)
        self.shortlists[need.id] = (need.version, revision, hits)
        return hits

    def needs_for(self, partner_id: str) -> list[tuple[Need, int, Hit]]:
        """Open needs whose shortlist a partner is on, with its place there, best score first."""
        found = []
        for need in list(self.needs.values()):
            for rank, hit in enumerate(self.shortlist(need), start=1):
                if hit.doc_id == partner_id:
                    found.append((need, rank, hit))
        return sorted(found, key=lambda f: (-f[2].score, f[0].id))

    def need(self, need_id: str) -> Need | None:
        """An open need, as its events last described it."""
        return self.needs.get(need_id)

    def practice_query(self, practice_id: str, regions: Sequence[str] = ()) -> Query | None:
        """A partner query for whoever could deliver a published practice in ``regions``."""
        doc = self.practices.get(practice_id)
        if doc is None:
            return None
        text = "\n".join(
            t
            for field in ("title", "summary", "body", "service_area")
            for t in doc.fields.get(field, ())
        )
        return Query(text, {"regions": regions} if regions else {})

    def author_of(self, practice_id: str) -> str | None:
        return self.practice_authors.get(practice_id)


def title(engine: Engine, doc_id: str) -> str:
    """A document's name (a partner) or title (a practice), as indexed."""
    doc = engine.get(doc_id)
    if doc is None:
        return ""
    for name in ("name", "title"):
        if doc.fields.get(name):
            return doc.fields[name][0]
    return ""
