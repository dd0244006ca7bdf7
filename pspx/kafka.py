"""Kafka wiring: the broker factory, the event bus and topic admin.

Consuming (typed handlers, retries, the dead-letter topic) is ``pspx.consumers``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import RecordMetadata
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


async def holds(settings: Settings, topic: str, partition: int, offset: int, event_id: str) -> bool:
    """Whether the broker still has this event at the position it acknowledged.

    A direct read, not an offset count: the embedded broker's end offsets lag
    behind what it holds, while a fetch at an offset is exact.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=3000, max_records=1)
        records = batch.get(tp, [])
        return (
            bool(records)
            and records[0].offset == offset
            and (dict(records[0].headers).get("event_id", b"").decode() == event_id)
        )
    finally:
        await consumer.stop()
