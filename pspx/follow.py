"""Following the log: every replica reads whole topics itself, with no consumer group.

For state held in memory and rebuilt from the log (matching's index) and for
live fan-out (the gateway's subscriptions). A consumer group suits work that
must happen once across replicas and commits its place; a follower suits
state every replica must hold, and so:

* reads from the beginning (or from now), in batches, handing each to its
  ``Intake`` (``pspx.consumers``: typed events, skips, the dead-letter topic,
  retries), so the handler can fold many events at the cost of one;
* knows when it has read the log as it stood at start (``caught_up``), and
  tells its owner once, between the last batch before and the first after;
* reads on from there in the same process: nothing is read twice;
* checks every ``log_check_s`` that the broker still holds the last record it
  read from each partition; where it does not (a broker that restarted empty),
  it reads that partition again from the beginning. The handler must be
  idempotent (a version guard), as every consumer here is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from pspx.consumers import MAX_RECORDS, Intake, Record
from pspx.kafka import Probe, fingerprint
from pspx.metrics import FOLLOWER_REWINDS
from pspx.settings import Settings

log = logging.getLogger(__name__)

# A partition that has not moved towards the end offset it reported at start for this long
# is read on live: the embedded broker can report an end it never serves.
STALL_S = 5.0


class Follower:
    def __init__(
        self, intake: Intake, settings: Settings, on_caught_up: Callable[[], Awaitable[None]] | None
    ) -> None:
        if intake.subscription.group is not None:
            raise ValueError(f"{intake.subscription.name} has a consumer group: subscribe to it")
        self.intake = intake
        self.subscription = intake.subscription
        self.settings = settings
        self.on_caught_up = on_caught_up
        self.caught_up = asyncio.Event()
        self._target: dict[TopicPartition, int] = {}
        self._moved: dict[TopicPartition, tuple[int, float]] = {}  # position, when it changed
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
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
                records = [r for rs in batch.values() for r in rs]
                now = asyncio.get_running_loop().time()
                await self._take(records)
                if not self.caught_up.is_set():
                    await self._maybe_caught_up(consumer, now)
                if now - checked_at >= self.settings.log_check_s:
                    checked_at = now
                    await self._rewind_lost(consumer, probe)
        finally:
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
        await self._maybe_caught_up(consumer, asyncio.get_running_loop().time())

    async def _maybe_caught_up(self, consumer: AIOKafkaConsumer, now: float) -> None:
        behind, stalled = [], []
        for tp, end in self._target.items():
            position = await consumer.position(tp)
            if position >= end:
                continue
            seen = self._moved.get(tp)
            if seen is None or seen[0] != position:
                self._moved[tp] = (position, now)
                behind.append(tp)
            elif now - seen[1] > STALL_S:
                stalled.append(tp)
            else:
                behind.append(tp)
        if stalled:
            log.warning(
                "the log stopped short of its end offsets; reading on live",
                extra={"fields": {"partitions": sorted(str(tp) for tp in stalled)}},
            )
            for tp in stalled:
                del self._target[tp]
        if not behind:
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
        for record in records:
            self._last[_tp(record)] = (record.offset, fingerprint(record))
        await self.intake.take(records)

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
