"""Consuming events: typed handlers, tolerant reading, bounded retries, a dead-letter topic.

A service hands ``subscribe`` a map from event type to handler. Each message is
decoded once here:

* an event type the consumer has no handler for (a newer producer's type, say)
  is skipped, counted in ``pspx_events_skipped_total`` and logged once per type;
* a malformed message, or a known type at a newer schema version than this
  reader knows, goes to ``<topic>.dlq`` at once (no retry can mend it);
* a handler that fails is retried a bounded number of times with backoff, then
  the message goes to the dead-letter topic.

The dead-letter publish is awaited before the offset is committed, so a crash
redelivers rather than loses, and one poison message never blocks its partition.
FastStream on Kafka has no retry or dead-letter handling of its own; this is it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.message import StreamMessage
from pydantic import ValidationError

from pspx import logs, topics
from pspx.events import CATALOGUE, Envelope, Event, NewerVersion
from pspx.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_SKIPPED
from pspx.settings import Settings
from pspx.spec import Subscription

log = logging.getLogger(__name__)

# Errors that no retry can mend: the message itself is wrong.
POISON = (ValidationError, NewerVersion, json.JSONDecodeError, UnicodeDecodeError)

Handler = Callable[[Envelope, Any], Awaitable[None]]
_reported: set[tuple[str, str]] = set()


def typed(envelope: Envelope, handled: Collection[type[Event]], consumer: str) -> Event | None:
    """The envelope's event if ``consumer`` handles its type, else None (counted, logged once).

    Raises ``NewerVersion`` or a ``ValidationError`` for a message to dead-letter.
    """
    kind = CATALOGUE.get(envelope.event_type)
    if kind is None or kind not in handled:
        EVENTS_SKIPPED.labels(consumer=consumer, event_type=envelope.event_type).inc()
        if (consumer, envelope.event_type) not in _reported:
            _reported.add((consumer, envelope.event_type))
            log.info(
                "skipping an event type this consumer does not handle",
                extra={
                    "fields": {
                        "consumer": consumer,
                        "event_type": envelope.event_type,
                        "known": kind is not None,
                    }
                },
            )
        return None
    return envelope.event()


async def dead_letter(
    kafka: KafkaBroker,
    subscription: Subscription,
    *,
    body: bytes,
    key: bytes | None,
    headers: dict[str, str],
    origin: tuple[str, int, int],
    error: BaseException,
    attempts: int,
) -> None:
    """Send a message to ``<topic>.dlq`` with headers naming the error, the attempts and where
    it came from. Awaited before a commit: a crash here redelivers, never loses."""
    topic, partition, offset = origin
    headers = {
        **headers,
        "dlq_error": f"{type(error).__name__}: {error}"[:2000],
        "dlq_attempts": str(attempts),
        "dlq_origin": f"{topic}/{partition}@{offset}",
        "dlq_group": subscription.group or "(none)",
        "dlq_consumer": subscription.name,
    }
    await kafka.publish(body, topics.dead_letter(topic), key=key, headers=headers)
    EVENTS_DEAD_LETTERED.labels(topic=topic, consumer=subscription.name).inc()
    log.error(
        "message sent to the dead-letter topic",
        extra={"fields": {"topic": topic, "attempts": attempts, "error": headers["dlq_error"]}},
    )


def guarded(
    kafka: KafkaBroker, subscription: Subscription, *, retries: int, backoff_s: float = 0.2
) -> type[BaseMiddleware]:
    """A subscriber middleware class: bounded retries, then the dead-letter topic."""
    consumer = subscription.name

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
                        EVENTS_CONSUMED.labels(topic=topic, consumer=consumer).inc()
                        return result
                return None
            finally:
                logs.correlation_id.reset(token)

        async def _dead_letter(
            self, msg: StreamMessage[Any], topic: str, exc: BaseException, attempts: int
        ) -> None:
            raw = msg.raw_message
            await dead_letter(
                kafka,
                subscription,
                body=msg.body,
                key=raw.key,
                headers={k: v for k, v in msg.headers.items() if isinstance(v, str)},
                origin=(topic, raw.partition, raw.offset),
                error=exc,
                attempts=attempts,
            )

    return ConsumerGuard


def subscribe(
    kafka: KafkaBroker,
    subscription: Subscription,
    handlers: Mapping[type[Event], Handler],
    settings: Settings,
    *,
    title: str | None = None,
) -> None:
    """Feed each event on the subscription's topics to the handler of its type.

    With a group the offset is committed only after the handler returns; without
    one the subscriber reads from ``subscription.start`` on every start and
    commits nothing. ``title`` names the subscriber in the AsyncAPI document (default: the
    subscription's name). Call before the broker starts.
    """
    strays = sorted(k.event_type for k in handlers if k.topic not in subscription.topics)
    if strays:
        raise ValueError(
            f"subscription {subscription.name} does not read the topics of {', '.join(strays)}"
        )
    guard = guarded(kafka, subscription, retries=settings.consumer_retries)

    async def on_event(envelope: Envelope) -> None:
        event = typed(envelope, handlers, subscription.name)
        if event is not None:
            await handlers[type(event)](envelope, event)

    # Middlewares attach to a router (FastStream 0.7 has no per-subscriber ones).
    router = KafkaRouter(middlewares=[guard])
    group = subscription.group
    router.subscriber(
        *subscription.topics,
        group_id=group,
        auto_offset_reset=subscription.start,
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR if group else AckPolicy.ACK_FIRST,
        title=title or subscription.name,
    )(on_event)
    kafka.include_router(router)
