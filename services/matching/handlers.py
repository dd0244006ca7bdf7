"""Event subscribers: rebuild the index from the log, then follow it live.

At start the log is read from the beginning up to the end offsets it had
then, and folded into the index in one fit; a record that is not a readable
event, or an event type the index does not fold, is skipped and counted, never
fatal. The live subscriber reads the same log with no consumer group (every
replica holds the whole index) and waits for the load; the version guard
skips what the load applied.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from pspx.consumers import POISON, typed
from pspx.events import Envelope, Event
from pspx.logs import current_correlation_id
from pspx.runtime import Runtime
from services.matching.index import FOLDS, MatchingIndex
from services.matching.queries import LoadView
from services.matching.store import MatchingStore

log = logging.getLogger(__name__)

SUBSCRIPTION = "index"
STALL_S = 10.0  # the log stopped short of the end offsets it reported: the live reader goes on


class Handlers:
    def __init__(self, runtime: Runtime, index: MatchingIndex, store: MatchingStore) -> None:
        self.runtime = runtime
        self.index = index
        self.store = store
        self.loaded = asyncio.Event()
        self.report: LoadView | None = None

    def subscribe(self) -> None:
        self.runtime.subscribe(SUBSCRIPTION, dict.fromkeys(FOLDS, self.on_event))

    async def on_event(self, envelope: Envelope, event: Event) -> None:
        await self.loaded.wait()
        outgoing = self.index.apply(envelope, event)
        if outgoing:
            await self.store.publish(outgoing, envelope.correlation_id)

    async def load(self) -> None:
        """Read the log as it stood at start, build the index in one fit, rank open needs."""
        topics = self.runtime.spec.subscription(SUBSCRIPTION).topics
        records = await read_log(self.runtime.settings.kafka_bootstrap, topics)
        events, report = decode(records)
        outgoing = await asyncio.to_thread(self.index.load, events)
        published = await self.store.publish(outgoing, current_correlation_id())
        self.report = report
        self.loaded.set()
        log.info(
            "index rebuilt from the log",
            extra={
                "fields": {
                    "events": report.events,
                    "skipped": report.skipped,
                    "malformed": report.malformed,
                    "partners": len(self.index.partners),
                    "practices": len(self.index.practices),
                    "open_needs": len(self.index.needs),
                    "published": published,
                }
            },
        )

    async def refit_when_due(self, every_s: float = 1.0) -> None:
        """Refresh vocabulary and IDF in a worker thread; queries never wait for it."""
        while True:
            await asyncio.sleep(every_s)
            for engine in (self.index.partners, self.index.practices):
                if engine.needs_refit:
                    await asyncio.to_thread(engine.refit)


def decode(
    records: Sequence[ConsumerRecord[bytes, bytes]],
) -> tuple[list[tuple[Envelope, Event]], LoadView]:
    """The events the index folds, and a count of what was skipped; never raises on a record."""
    events: list[tuple[Envelope, Event]] = []
    malformed = 0
    skipped: Counter[str] = Counter()
    for record in records:
        try:
            envelope = Envelope.model_validate(json.loads(record.value or b""))
            event = typed(envelope, FOLDS, f"{SUBSCRIPTION}.load")
        except POISON:
            malformed += 1  # the live subscriber sends it to the dead-letter topic
            continue
        if event is None:
            skipped[envelope.event_type] += 1
        else:
            events.append((envelope, event))
    return events, LoadView(events=len(records), skipped=dict(skipped), malformed=malformed)


async def read_log(bootstrap: str, topics: Sequence[str]) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topics`` from the beginning up to the end offsets seen at the start.

    Events published meanwhile are left to the live subscriber, so the read ends
    however busy the log is.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await consumer.topics()  # fetch metadata for every topic
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        idle_since = asyncio.get_running_loop().time()
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for got in batch.values():
                records += got
            now = asyncio.get_running_loop().time()
            idle_since = now if batch else idle_since
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
            if remaining and now - idle_since > STALL_S:
                log.warning(
                    "the log ended short of its end offsets; the live subscriber reads on",
                    extra={"fields": {"partitions": sorted(str(tp) for tp in remaining)}},
                )
                break
        # What was already fetched with the last batches (a broker may report the end
        # offset of a batch's first record): take it too, rather than read it again live.
        for got in (await consumer.getmany(timeout_ms=0)).values():
            records += got
    finally:
        await consumer.stop()
    return records
