"""Event subscribers: the index follows the log (no consumer group: ``pspx.follow``), in
batches.

At start the follower hands over the log as it stood, which is folded in
without ranking; once it is all read, the index is built in one fit, every
open need is ranked once, and the service reports ready. From then on each
batch is folded in live and ranked once for the whole batch. Every replica
holds the whole index; nothing is read twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from pspx.consumers import Batch, Intake
from pspx.events import Envelope, Event
from pspx.logs import current_correlation_id
from pspx.runtime import Runtime
from services.matching.index import FOLDS, MatchingIndex
from services.matching.store import MatchingStore

log = logging.getLogger(__name__)

SUBSCRIPTION = "index"
REFIT_GAP_S = 10.0


class Handlers:
    def __init__(self, runtime: Runtime, index: MatchingIndex, store: MatchingStore) -> None:
        self.runtime = runtime
        self.index = index
        self.store = store
        self.loaded = asyncio.Event()
        self.folded_at_start = 0

    def subscribe(self) -> Intake:
        return self.runtime.consume(
            SUBSCRIPTION, FOLDS, self.on_batch, on_caught_up=self.on_caught_up
        )

    async def on_batch(self, events: Batch) -> None:
        if not self.loaded.is_set():
            for envelope, event in events:
                self.index.apply(envelope, event, live=False)
            self.folded_at_start += len(events)
            return
        outgoing = self.index.apply_batch(events)
        if outgoing:
            await self.store.publish(outgoing, _correlation(events))

    async def on_caught_up(self) -> None:
        """The log as it stood at start is in: build the index in one fit, rank open needs."""
        outgoing = await asyncio.to_thread(self.index.finish_load)
        published = await self.store.publish(outgoing, current_correlation_id())
        self.loaded.set()
        log.info(
            "index rebuilt from the log",
            extra={
                "fields": {
                    "events": self.folded_at_start,
                    "partners": len(self.index.partners),
                    "practices": len(self.index.practices),
                    "open_needs": len(self.index.needs),
                    "published": published,
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


def _correlation(events: list[tuple[Envelope, Event]]) -> str:
    """The correlation id most of a batch carries: a shortlist follows its need's request."""
    counts = Counter(envelope.correlation_id for envelope, _ in events)
    return counts.most_common(1)[0][0]
