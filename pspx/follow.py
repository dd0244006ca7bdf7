"""Following the log: every replica reads whole topics itself, with no consumer group.

For state held in memory and rebuilt from the log (matching's index) and for
live fan-out (the gateway's subscriptions). A consumer group suits work that
must happen once across replicas and commits its place; a follower suits
state every replica must hold, and so:

* reads from the beginning (or from now), in batches, handing a batch of
  typed events to one handler: the handler can fold many events at the cost
  of one (one fit, one transaction, one search per need);
* knows when it has read the log as it stood at start (``caught_up``), and
  tells its owner once, between the last batch before and the first after;
* reads on from there in the same process: nothing is read twice;
* skips event types it has no use for, counted and logged once; dead-letters
  records it cannot read, and events its handler keeps failing on, after
  bounded retries, so one poison message never stops it;
* checks every ``log_check_s`` that the broker still holds the last record it
  read from each partition; where it does not (a broker that restarted empty),
  it reads that partition again from the beginning. The handler must be
  idempotent (a version guard), as every consumer here is.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker

from pspx.consumers import POISON, dead_letter, typed
from pspx.events import Envelope, Event
from pspx.kafka import Probe, fingerprint
from pspx.metrics import EVENTS_CONSUMED, FOLLOWER_REWINDS
from pspx.settings import Settings
from pspx.spec import Subscription

log = logging.getLogger(__name__)

Batch = list[tuple[Envelope, Event]]
BatchHandler = Callable[[Batch], Awaitable[None]]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"

MAX_RECORDS = 1000  # a batch: enough to amortise a fold, small enough to keep queries answered
STALL_S = 10.0  # the log stopped short of the end offsets it reported: read on live


class Follower:
    def __init__(
        self,
        kafka: KafkaBroker,
        settings: Settings,
        subscription: Subscription,
        handled: Collection[type[Event]],
        on_batch: BatchHandler,
        on_caught_up: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if subscription.group is not None:
            raise ValueError(f"{subscription.name} has a consumer group: it is not followed")
        strays = sorted(k.event_type for k in handled if k.topic not in subscription.topics)
        if strays:
            raise ValueError(
                f"subscription {subscription.name} does not read the topics of {', '.join(strays)}"
            )
        self.kafka = kafka
        self.settings = settings
        self.subscription = subscription
        self.handled = handled
        self.on_batch = on_batch
        self.on_caught_up = on_caught_up
        self.caught_up = asyncio.Event()
        # What it has read, for its owner's report.
        self.read = 0
        self.skipped: Counter[str] = Counter()
        self.dead_lettered = 0
        self._target: dict[TopicPartition, int] = {}
        self._last: dict[TopicPartition, tuple[int, str]] = {}

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset=self.subscription.start,
            fetch_max_wait_ms=self.settings.consumer_fetch_wait_ms,
        )
        probe = Probe(self.settings.kafka_bootstrap)
        await consumer.start()
        try:
            await self._start_reading(consumer)
            checked_at = asyncio.get_running_loop().time()
            idle_since = checked_at
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
                records = [r for rs in batch.values() for r in rs]
                now = asyncio.get_running_loop().time()
                idle_since = now if records else idle_since
                await self._take(records)
                if not self.caught_up.is_set():
                    await self._maybe_caught_up(consumer, stalled=now - idle_since > STALL_S)
                if now - checked_at >= self.settings.log_check_s:
                    checked_at = now
                    await self._rewind_lost(consumer, probe)
        finally:
            await probe.stop()
            await consumer.stop()

    async def _start_reading(self, consumer: AIOKafkaConsumer) -> None:
        await consumer.topics()  # metadata for every topic
        partitions = [
            TopicPartition(topic, p)
            for topic in self.subscription.topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        if self.subscription.start == "latest":
            await consumer.seek_to_end(*partitions)
            self._target = {}
        else:
            await consumer.seek_to_beginning(*partitions)
            self._target = {tp: n for tp, n in (await consumer.end_offsets(partitions)).items()}
        await self._maybe_caught_up(consumer, stalled=False)

    async def _maybe_caught_up(self, consumer: AIOKafkaConsumer, *, stalled: bool) -> None:
        behind = [tp for tp, end in self._target.items() if await consumer.position(tp) < end]
        if behind and not stalled:
            return
        if behind:
            log.warning(
                "the log ended short of its end offsets; reading on live",
                extra={"fields": {"partitions": sorted(str(tp) for tp in behind)}},
            )
        await self._catch_up()

    async def _catch_up(self) -> None:
        if self.caught_up.is_set():
            return
        self._target = {}  # whatever follows is live
        if self.on_caught_up is not None:
            await self.on_caught_up()
        self.caught_up.set()

    async def _take(self, records: list[Record]) -> None:
        """Hand the records over: those the log held at start first, then, once caught up,
        the rest, so that the owner's switch from loading to live falls between them."""
        if not self.caught_up.is_set():
            target = self._target
            before = [r for r in records if r.offset < target.get(_tp(r), 0)]
            after = [r for r in records if r.offset >= target.get(_tp(r), 0)]
            if after:
                await self._handle(before)
                await self._catch_up()
                records = after
        await self._handle(records)

    async def _handle(self, records: list[Record]) -> None:
        if not records:
            return
        self.read += len(records)
        events: list[tuple[Envelope, Event, Record]] = []
        for record in records:
            self._last[_tp(record)] = (record.offset, fingerprint(record))
            try:
                envelope = Envelope.model_validate(json.loads(record.value or b""))
                event = typed(envelope, self.handled, self.subscription.name)
            except POISON as exc:
                await self._dead_letter(record, exc, attempts=1)
                continue
            if event is None:
                self.skipped[envelope.event_type] += 1
            else:
                events.append((envelope, event, record))
        await self._apply(events)
        for record in records:
            EVENTS_CONSUMED.labels(topic=record.topic, consumer=self.subscription.name).inc()

    async def _apply(self, events: list[tuple[Envelope, Event, Record]]) -> None:
        """The whole batch, retried; if it keeps failing, event by event, so that only the
        event that fails goes to the dead-letter topic."""
        if not events:
            return
        if await self._attempt([(e, ev) for e, ev, _ in events]) is None:
            return
        for envelope, event, record in events:
            failure = await self._attempt([(envelope, event)])
            if failure is not None:
                await self._dead_letter(
                    record, failure, attempts=self.settings.consumer_retries + 1
                )

    async def _attempt(self, batch: Batch) -> BaseException | None:
        retries = self.settings.consumer_retries
        for attempt in range(1, retries + 2):
            try:
                await self.on_batch(batch)
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt > retries:
                    return exc
                log.warning(
                    "handling a batch failed, retrying",
                    extra={
                        "fields": {"events": len(batch), "attempt": attempt, "error": repr(exc)}
                    },
                )
                await asyncio.sleep(0.2 * attempt)
        return None

    async def _dead_letter(self, record: Record, error: BaseException, attempts: int) -> None:
        self.dead_lettered += 1
        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
        await dead_letter(
            self.kafka,
            self.subscription,
            body=record.value or b"",
            key=record.key,
            headers=headers,
            origin=(record.topic, record.partition, record.offset),
            error=error,
            attempts=attempts,
        )

    async def _rewind_lost(self, consumer: AIOKafkaConsumer, probe: Probe) -> None:
        """Read again from the beginning any partition whose last read record the broker no
        longer holds where it was: a broker that restarted empty, whose topics are refilled."""
        if not self._last:
            return
        expected = {tp: {offset: fp} for tp, (offset, fp) in self._last.items()}
        try:
            lost = await probe.lost(expected)
        except Exception as exc:  # the broker is away: ask again at the next check
            log.info("could not check the log", extra={"fields": {"error": repr(exc)}})
            return
        if lost:
            await consumer.seek_to_beginning(*lost)
            for tp in lost:
                del self._last[tp]
            FOLLOWER_REWINDS.labels(consumer=self.subscription.name).inc(len(lost))
            log.warning(
                "the broker lost the log: reading it again from the beginning",
                extra={"fields": {"partitions": sorted(str(tp) for tp in lost)}},
            )


def _tp(record: Record) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)
