"""Consuming events: typed batches, tolerant reading, bounded retries, a dead-letter topic.

Every subscription hands its records to an ``Intake``, which turns them into
typed events for one handler, a batch at a time (a fold, a bulk write, one
transaction for many events):

* an event type the handler has no use for (a newer producer's, say) is
  skipped, counted in ``pspx_events_skipped_total`` and logged once per type;
* a record that is not a readable event (not JSON, not an envelope, a field
  that fails validation, or a known type at a schema version newer than this
  reader knows) goes to ``<topic>.dlq`` at once: no retry can mend it;
* a batch whose handler fails is handled again event by event, each retried a
  bounded number of times with backoff, and an event that keeps failing goes
  to the dead-letter topic; handlers are idempotent (version guards), so an
  event handled again changes nothing.

A subscription with a consumer group is a FastStream batch subscriber whose
offsets are committed after the handler returns (``subscribe`` here); one
without is a follower (``pspx.follow``). Either way one poison message never
blocks its partition, and the dead-letter publish is awaited before the commit,
so a crash redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeAlias

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from pspx import logs, topics
from pspx.events import CATALOGUE, Envelope, Event, NewerVersion
from pspx.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_SKIPPED
from pspx.settings import Settings
from pspx.spec import Subscription

log = logging.getLogger(__name__)

# Errors that no retry can mend: the message itself is wrong.
POISON = (ValidationError, NewerVersion, json.JSONDecodeError, UnicodeDecodeError)
MAX_RECORDS = 1000  # a batch: enough to amortise a fold or a write, small enough to stay brisk

Batch: TypeAlias = list[tuple[Envelope, Event]]
BatchHandler: TypeAlias = Callable[[Batch], Awaitable[None]]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
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
    record: Record,
    error: BaseException,
    attempts: int,
) -> None:
    """Send a record to ``<topic>.dlq`` with headers naming the error, the attempts and where
    it came from. Awaited before a commit: a crash here redelivers, never loses."""
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    headers.update(
        {
            "dlq_error": f"{type(error).__name__}: {error}"[:2000],
            "dlq_attempts": str(attempts),
            "dlq_origin": f"{record.topic}/{record.partition}@{record.offset}",
            "dlq_group": subscription.group or "(none)",
            "dlq_consumer": subscription.name,
        }
    )
    await kafka.publish(
        record.value or b"", topics.dead_letter(record.topic), key=record.key, headers=headers
    )
    EVENTS_DEAD_LETTERED.labels(topic=record.topic, consumer=subscription.name).inc()
    log.error(
        "message sent to the dead-letter topic",
        extra={
            "fields": {"topic": record.topic, "attempts": attempts, "error": headers["dlq_error"]}
        },
    )


class Intake:
    """Turns one subscription's records into typed batches for its handler.

    ``kafka=None`` makes a reader that publishes nothing (the gateway's live
    fan-out): a record it cannot read is logged and counted, and left to the
    dead-letter topics of the services that consume it for real.
    """

    def __init__(
        self,
        kafka: KafkaBroker | None,
        settings: Settings,
        subscription: Subscription,
        handled: Collection[type[Event]],
        on_batch: BatchHandler,
    ) -> None:
        strays = sorted(k.event_type for k in handled if k.topic not in subscription.topics)
        if strays:
            raise ValueError(
                f"subscription {subscription.name} does not read the topics of {', '.join(strays)}"
            )
        self.kafka = kafka
        self.subscription = subscription
        self.handled = handled
        self.on_batch = on_batch
        self.retries = settings.consumer_retries
        self.backoff_s = 0.2
        # What it has taken, for its owner's report.
        self.read = 0
        self.skipped: Counter[str] = Counter()
        self.dead_lettered = 0

    async def take(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self.read += len(records)
        events: list[tuple[Envelope, Event, Record]] = []
        for record in records:
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
        if events:
            await self._apply(events)
        for record in records:
            EVENTS_CONSUMED.labels(topic=record.topic, consumer=self.subscription.name).inc()

    async def _apply(self, events: list[tuple[Envelope, Event, Record]]) -> None:
        """The whole batch at once; if that fails, event by event with bounded retries, so
        that only an event that keeps failing goes to the dead-letter topic."""
        token = logs.correlation_id.set(events[0][0].correlation_id)
        try:
            await self.on_batch([(envelope, event) for envelope, event, _ in events])
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "handling a batch failed; handling it event by event",
                extra={"fields": {"events": len(events), "error": repr(exc)}},
            )
        finally:
            logs.correlation_id.reset(token)
        for envelope, event, record in events:
            token = logs.correlation_id.set(envelope.correlation_id)
            try:
                await self._one(envelope, event, record)
            finally:
                logs.correlation_id.reset(token)

    async def _one(self, envelope: Envelope, event: Event, record: Record) -> None:
        for attempt in range(1, self.retries + 2):
            try:
                await self.on_batch([(envelope, event)])
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt > self.retries:
                    await self._dead_letter(record, exc, attempts=attempt)
                    return
                fields = {"topic": record.topic, "attempt": attempt, "error": repr(exc)}
                log.warning("handler failed, retrying", extra={"fields": fields})
                await asyncio.sleep(self.backoff_s * attempt)

    async def _dead_letter(self, record: Record, error: BaseException, attempts: int) -> None:
        self.dead_lettered += 1
        if self.kafka is None:
            log.warning(
                "skipping a record this reader cannot handle",
                extra={"fields": {"topic": record.topic, "error": repr(error)}},
            )
            return
        await dead_letter(self.kafka, self.subscription, record, error, attempts)


def subscribe(kafka: KafkaBroker, intake: Intake, settings: Settings, *, title: str) -> None:
    """A FastStream batch subscriber in the subscription's consumer group: each batch goes to
    ``intake``, and the offsets are committed only after it returns. Call before the broker
    starts. ``title`` names the subscriber in the AsyncAPI document."""
    subscription = intake.subscription
    if subscription.group is None:
        raise ValueError(f"{subscription.name} has no consumer group: follow it instead")

    async def on_records(message: KafkaMessage) -> None:
        await intake.take(message.raw_message)

    router = KafkaRouter()
    router.subscriber(
        *subscription.topics,
        batch=True,
        max_records=MAX_RECORDS,
        group_id=subscription.group,
        auto_offset_reset=subscription.start,
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=title,
    )(on_records)
    kafka.include_router(router)
