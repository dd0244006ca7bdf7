"""Kafka wiring: the broker factory, the event bus, topic admin and the consumer guard.

FastStream on Kafka has no retry or dead-letter handling of its own, so
``ConsumerGuard`` supplies it: bounded retries, then ``<topic>.dlq`` with headers
naming the error, the attempt count and the origin. The dead-letter publish is
awaited before the offset is committed, and a poison message never blocks its
partition.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import RecordMetadata
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.message import StreamMessage
from pydantic import ValidationError

from pspx import logs, topics
from pspx.events import Envelope, UnknownEvent
from pspx.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_PUBLISHED
from pspx.settings import Settings

log = logging.getLogger(__name__)

# Errors that no retry can mend: the message itself is wrong.
POISON = (ValidationError, UnknownEvent, json.JSONDecodeError, UnicodeDecodeError)


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


def guarded(
    kafka: KafkaBroker, *, group: str, retries: int, backoff_s: float = 0.2
) -> type[BaseMiddleware]:
    """A subscriber middleware class: bounded retries, then the dead-letter topic."""

    class ConsumerGuard(BaseMiddleware):
        async def consume_scope(
            self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            topic = msg.raw_message.topic
            token = logs.correlation_id.set(msg.headers.get("correlation_id") or msg.correlation_id)
            try:
                for attempt in range(1, retries + 2):
                    try:
                        result = await call_next(msg)
                    except POISON as exc:
                        await self._dead_letter(msg, topic, exc, attempt)
                        return None
                    except Exception as exc:
                        if attempt > retries:
                            await self._dead_letter(msg, topic, exc, attempt)
                            return None
                        log.warning(
                            "handler failed, retrying",
                            extra={
                                "fields": {"topic": topic, "attempt": attempt, "error": repr(exc)}
                            },
                        )
                        await asyncio.sleep(backoff_s * attempt)
                    else:
                        EVENTS_CONSUMED.labels(topic=topic, group=group).inc()
                        return result
                return None
            finally:
                logs.correlation_id.reset(token)

        async def _dead_letter(
            self, msg: StreamMessage[Any], topic: str, exc: BaseException, attempts: int
        ) -> None:
            raw = msg.raw_message
            headers = {k: v for k, v in msg.headers.items() if isinstance(v, str)}
            headers.update(
                {
                    "dlq_error": f"{type(exc).__name__}: {exc}"[:2000],
                    "dlq_attempts": str(attempts),
                    "dlq_origin": f"{topic}/{raw.partition}@{raw.offset}",
                    "dlq_group": group,
                }
            )
            # Awaited before the offset commits: a crash here redelivers, never loses.
            await kafka.publish(msg.body, topics.dead_letter(topic), key=raw.key, headers=headers)
            EVENTS_DEAD_LETTERED.labels(topic=topic, group=group).inc()
            log.error(
                "message sent to the dead-letter topic",
                extra={
                    "fields": {"topic": topic, "attempts": attempts, "error": headers["dlq_error"]}
                },
            )

    return ConsumerGuard


def subscribe(
    kafka: KafkaBroker,
    *topic_names: str,
    group: str | None,
    handle: Callable[[Envelope], Awaitable[None]],
    settings: Settings,
    consumer: str | None = None,
) -> None:
    """Feed every envelope on ``topic_names`` to ``handle``, committing only after it.

    With ``group=None`` the subscriber reads from the beginning on every start and
    commits nothing: the way to rebuild in-memory state from the log.
    ``consumer`` names the subscriber in the AsyncAPI document (default: the group).
    """
    guard = guarded(kafka, group=group or "(replay)", retries=settings.consumer_retries)

    async def on_event(envelope: Envelope) -> None:
        await handle(envelope)

    # Middlewares attach to a router (FastStream 0.7 has no per-subscriber ones).
    router = KafkaRouter(middlewares=[guard])
    router.subscriber(
        *topic_names,
        group_id=group,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR if group else AckPolicy.ACK_FIRST,
        title=consumer or group,
    )(on_event)
    kafka.include_router(router)
