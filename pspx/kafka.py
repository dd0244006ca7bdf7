"""Kafka wiring: the broker factory, the event bus and topic admin.

Consuming (typed handlers, retries, the dead-letter topic) is ``pspx.consumers``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    TopicAlreadyExistsError,
    UnknownError,
    UnknownTopicOrPartitionError,
)
from aiokafka.structs import ConsumerRecord, RecordMetadata
from faststream.kafka import KafkaBroker

from pspx import topics
from pspx.events import Envelope
from pspx.metrics import EVENTS_PUBLISHED
from pspx.settings import Settings

log = logging.getLogger(__name__)


def broker(settings: Settings, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        logger=logging.getLogger(f"faststream.{client_id}"),
        log_level=logging.DEBUG,
    )


class EventBus:
    """Publishes envelopes: key = aggregate id, event id and type in headers."""

    def __init__(self, kafka: KafkaBroker) -> None:
        self.kafka = kafka

    async def publish_all(self, batch: Sequence[tuple[Envelope, str]]) -> list[RecordMetadata]:
        """Send in order, then wait for every ack: one round trip for the batch."""
        acks = [
            await self.kafka.publish(
                envelope,
                topic,
                key=envelope.aggregate_id.encode(),
                headers=envelope.headers(),
                correlation_id=envelope.correlation_id,
                no_confirm=True,
            )
            for envelope, topic in batch
        ]
        positions: list[RecordMetadata] = await asyncio.gather(*acks)
        for envelope, topic in batch:
            EVENTS_PUBLISHED.labels(topic=topic, event_type=envelope.event_type).inc()
        return positions


async def ensure_topics(settings: Settings) -> None:
    """Create the event topics and their dead-letter topics if they are missing."""
    wanted = [*topics.ALL, *(topics.dead_letter(t) for t in topics.ALL)]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, topics.PARTITIONS, 1) for n in wanted if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another service created them first
    finally:
        await admin.close()


def fingerprint(record: ConsumerRecord[bytes, bytes]) -> str:
    """What identifies a record: its event id header, or a digest of its bytes."""
    for key, value in record.headers or ():
        if key == "event_id":
            return value.decode(errors="replace")
    return "sha1:" + hashlib.sha1(record.value or b"").hexdigest()


class Probe:
    """Reads the records at given positions, to tell whether the broker still holds them.

    A broker that restarted empty (the embedded one keeps nothing) or lost data
    is noticed this way by relays (what they sent) and followers (what they read).
    A direct read, not an offset count: the embedded broker's end offsets lag
    behind what it holds, while a fetch at an offset is exact. Each check uses a
    fresh client: one that lived through a broker's restart can keep stale state.
    """

    def __init__(self, bootstrap: str, timeout_s: float = 3.0) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s

    async def lost(
        self, expected: Mapping[TopicPartition, Mapping[int, str]]
    ) -> set[TopicPartition]:
        """The partitions whose records at the given offsets are not the given fingerprints.

        Raises ``KafkaError`` (or a timeout) when the broker cannot be asked; a
        partition that could not be read in time is left out: only a definite
        answer counts as lost.
        """
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await asyncio.wait_for(consumer.start(), self.timeout_s)
        try:
            return await self._lost(consumer, expected)
        finally:
            await consumer.stop()

    async def _lost(
        self, consumer: AIOKafkaConsumer, expected: Mapping[TopicPartition, Mapping[int, str]]
    ) -> set[TopicPartition]:
        partitions = list(expected)
        try:
            end = await asyncio.wait_for(consumer.end_offsets(partitions), self.timeout_s)
        except (UnknownError, UnknownTopicOrPartitionError):
            # The broker answers but does not know the topic as it was: a new broker (the
            # embedded one answers UnknownError for a topic a client wrote to before it
            # was created again). Its history is not there.
            return set(partitions)
        lost: set[TopicPartition] = set()
        rounds = max((len(offsets) for offsets in expected.values()), default=0)
        for i in range(rounds):
            want = {tp: sorted(offsets)[i] for tp, offsets in expected.items() if len(offsets) > i}
            found = await self._read_at(consumer, want)
            for tp, offset in want.items():
                record = found.get(tp)
                if record is None:
                    if end[tp] <= offset:  # nothing there, and the broker says so
                        lost.add(tp)
                elif record.offset != offset or fingerprint(record) != expected[tp][offset]:
                    lost.add(tp)
        return lost

    async def _read_at(
        self, consumer: AIOKafkaConsumer, want: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, ConsumerRecord[bytes, bytes]]:
        consumer.assign(list(want))
        for tp, offset in want.items():
            consumer.seek(tp, offset)
        found: dict[TopicPartition, ConsumerRecord[bytes, bytes]] = {}
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while len(found) < len(want) and asyncio.get_running_loop().time() < deadline:
            missing = [tp for tp in want if tp not in found]
            batch = await consumer.getmany(*missing, timeout_ms=200)
            for tp, records in batch.items():
                if records and tp not in found:
                    found[tp] = records[0]
        return found
