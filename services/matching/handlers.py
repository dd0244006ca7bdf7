"""Event subscribers. Every replica's index follows the log (no consumer group:
``pspx.follow``); ranking a posted or changed need goes through one consumer group, so it
happens once across replicas.

At start the follower hands over the log as it stood, which is folded in
without ranking; once it is all read, the index is built in one fit and the
service reports ready. From then on each batch is folded in live, and a
changed partner's alerts for open needs are searched for. The ranking
consumer takes a batch of need events once the index holds it, ranks each
need and publishes its shortlist and alerts; its group's committed offsets say
what is still to rank after a restart. A fact already published (by another
replica, or before a crash) is not published again.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Counter

from pspx.consumers import Batch, Intake
from pspx.events.matching import MatchFound
from pspx.runtime import Runtime
from services.matching.index import FOLDS, NEED_EVENTS, MatchingIndex, Outgoing
from services.matching.store import MatchingStore

log = logging.getLogger(__name__)

SUBSCRIPTION = "index"
RANKING = "rank"
REFIT_GAP_S = 10.0
FOLD_WAIT_S = 60.0  # how long a batch to rank may wait for this replica's index to hold it
NEEDS_RANKED = Counter(
    "pspx_matching_needs_ranked_total",
    "Needs whose shortlist this replica ranked (once across replicas: one consumer group)",
)


class Handlers:
    def __init__(self, runtime: Runtime, index: MatchingIndex, store: MatchingStore) -> None:
        self.runtime = runtime
        self.index = index
        self.store = store
        self.loaded = asyncio.Event()
        self.progress = asyncio.Condition()  # notified after each batch the index folds in
        self.folded_at_start = 0

    def subscribe(self) -> Intake:
        self.runtime.consume(RANKING, NEED_EVENTS, self.on_rank)
        return self.runtime.consume(
            SUBSCRIPTION, FOLDS, self.on_batch, on_caught_up=self.on_caught_up
        )

    async def on_batch(self, events: Batch) -> None:
        if not self.loaded.is_set():
            for envelope, event in events:
                self.index.apply(envelope, event, live=False)
            self.folded_at_start += len(events)
            return
        changed = self.index.fold_batch(events)
        async with self.progress:
            self.progress.notify_all()
        # A changed partner's alerts for open needs: each replica searches for its own, and
        # unique keys keep what is published single (needs are ranked in ``on_rank``).
        partners = [(e, ev) for e, ev in changed if not isinstance(ev, NEED_EVENTS)]
        if partners:
            outgoing = self.index.ranked_for(partners)
            for correlation_id, caused in _by_cause(outgoing, partners).items():
                await self.store.publish(caused, correlation_id)

    async def on_rank(self, events: Batch) -> None:
        """Rank the needs a batch posted or changed, once this replica's index holds them."""
        await self.loaded.wait()
        async with self.progress:
            await asyncio.wait_for(
                self.progress.wait_for(lambda: self.index.folded(events)), FOLD_WAIT_S
            )
        outgoing = self.index.ranked_for(events)
        needs = {e.aggregate_id for e, ev in events if isinstance(ev, NEED_EVENTS)}
        NEEDS_RANKED.inc(len(needs & self.index.needs.keys()))
        for correlation_id, caused in _by_cause(outgoing, events).items():
            await self.store.publish(caused, correlation_id)

    async def on_caught_up(self) -> None:
        """The log as it stood at start is in: build the index in one fit."""
        await asyncio.to_thread(self.index.build)
        self.loaded.set()
        async with self.progress:
            self.progress.notify_all()
        log.info(
            "index rebuilt from the log",
            extra={
                "fields": {
                    "events": self.folded_at_start,
                    "partners": len(self.index.partners),
                    "practices": len(self.index.practices),
                    "open_needs": len(self.index.needs),
                }
            },
        )

    async def refit_when_due(self, every_s: float = 1.0, gap_s: float = REFIT_GAP_S) -> None:
        """Refresh vocabulary and IDF in a worker thread when an engine's delta has grown;
        queries never wait for it, and refits leave the CPU to the rest at least ``gap_s``."""
        while True:
            await asyncio.sleep(every_s)
            for engine in (self.index.partners, self.index.practices):
                if engine.needs_refit:
                    await asyncio.to_thread(engine.refit)
                    await asyncio.sleep(gap_s)


def _by_cause(outgoing: list[Outgoing], events: Batch) -> dict[str, list[Outgoing]]:
    """What to publish, by the correlation id of the event that called for it: a shortlist
    follows its need's request, a partner's alert the partner's change."""
    cause = {envelope.aggregate_id: envelope.correlation_id for envelope, _ in events}
    caused: dict[str, list[Outgoing]] = {}
    for out in outgoing:
        event = out.event
        named = (
            event.partner_id
            if isinstance(event, MatchFound) and event.trigger == "partner"
            else out.need_id
        )
        caused.setdefault(cause[named], []).append(out)
    return caused
