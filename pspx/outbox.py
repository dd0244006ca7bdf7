"""The transactional outbox and its relay.

A service writes its change and the change's events in one Mongo transaction
(``Outbox.add`` inside ``pspx.mongo.in_transaction``). The relay publishes
pending records in order and marks them sent only after the broker's ack, so a
crash can duplicate an event but never lose one.

Records are kept after they are sent, with the position the broker gave them.
A relay checks, at start and then every ``log_check_s``, that the broker still
holds each topic's whole history (the first and the last record it sent to
each partition, read back where the broker put them); when a topic lost any of
it (the embedded broker forgets everything on restart, a rebuilt cluster
starts empty), the relay republishes the topic's history in order, appended
after whatever the broker holds now, so a consumer at any position reads it
all again (consumers are idempotent). ``pspx replay`` does the same on demand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from pspx.events import Envelope, Event, new_envelope
from pspx.kafka import EventBus, Probe
from pspx.metrics import OUTBOX_PENDING, RELAY_REPUBLISHED
from pspx.settings import Settings

log = logging.getLogger(__name__)

BATCH = 500
PENDING = "pending"
SENT = "sent"

_last_seq = 0


def _next_seq() -> int:
    """A per-process increasing sequence; clock-based so it also orders across restarts."""
    global _last_seq
    _last_seq = max(_last_seq + 1, time.time_ns())
    return _last_seq


class Outbox:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], source: str, topics: Sequence[str]
    ) -> None:
        self.records = db["outbox"]
        self.source = source
        self.topics = frozenset(topics)
        self.written = asyncio.Event()

    async def ensure_indexes(self) -> None:
        await self.records.create_index([("status", ASCENDING), ("seq", ASCENDING)])
        await self.records.create_index([("topic", ASCENDING), ("seq", ASCENDING)])
        await self.records.create_index(
            [("topic", ASCENDING), ("partition", ASCENDING), ("offset", ASCENDING)]
        )

    async def add(
        self,
        session: AsyncClientSession,
        events: Sequence[Event],
        *,
        aggregate_id: str,
        aggregate_version: int,
        correlation_id: str,
    ) -> list[Envelope]:
        """Stage one aggregate's events inside the caller's transaction."""
        return await self.stage(
            session, [(e, aggregate_id, aggregate_version) for e in events], correlation_id
        )

    async def stage(
        self,
        session: AsyncClientSession,
        items: Sequence[tuple[Event, str, int]],
        correlation_id: str,
    ) -> list[Envelope]:
        """Stage (event, aggregate id, aggregate version) items inside the caller's
        transaction, in one write; they exist only if it commits."""
        strays = sorted({e.topic for e, _, _ in items} - self.topics)
        if strays:
            raise ValueError(f"{self.source} does not produce to {', '.join(strays)}")
        envelopes = [
            new_envelope(
                event,
                aggregate_id=aggregate_id,
                aggregate_version=aggregate_version,
                source=self.source,
                correlation_id=correlation_id,
            )
            for event, aggregate_id, aggregate_version in items
        ]
        if envelopes:
            now = datetime.now(UTC)
            await self.records.insert_many(
                [
                    {
                        "_id": str(env.event_id),
                        "seq": _next_seq(),
                        "topic": event.topic,
                        "status": PENDING,
                        "envelope": env.model_dump(mode="json"),
                        "created_at": now,
                    }
                    for env, (event, _, _) in zip(envelopes, items, strict=True)
                ],
                session=session,
            )
        return envelopes

    def wake_relay(self) -> None:
        self.written.set()

    async def pending(self, limit: int) -> list[dict[str, Any]]:
        cursor = self.records.find({"status": PENDING}).sort("seq", ASCENDING).limit(limit)
        return await cursor.to_list()

    async def mark_sent(
        self, records: Sequence[dict[str, Any]], acks: Sequence[RecordMetadata]
    ) -> None:
        """Record each event as sent, with where the broker put it."""
        now = datetime.now(UTC)
        await self.records.bulk_write(
            [
                UpdateOne(
                    {"_id": r["_id"]},
                    {
                        "$set": {
                            "status": SENT,
                            "sent_at": now,
                            "partition": a.partition,
                            "offset": a.offset,
                        }
                    },
                )
                for r, a in zip(records, acks, strict=True)
            ]
        )

    async def history(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Every record of a topic in publication order, sent or not."""
        async for record in self.records.find({"topic": topic}).sort("seq", ASCENDING):
            yield record

    async def ends(self, topic: str) -> dict[TopicPartition, dict[int, str]]:
        """Per partition, the offsets of the first and the last record sent there, with
        their event ids: what the broker must still hold for the history to be whole."""
        ends: dict[TopicPartition, dict[int, str]] = {}
        for partition in await self.records.distinct("partition", {"topic": topic, "status": SENT}):
            tp = TopicPartition(topic, partition)
            query = {"topic": topic, "status": SENT, "partition": partition}
            for direction in (ASCENDING, DESCENDING):
                record = await self.records.find_one(query, sort=[("offset", direction)])
                if record is not None:
                    ends.setdefault(tp, {})[record["offset"]] = record["_id"]
        return ends


async def replay(outbox: Outbox, bus: EventBus, topics: Sequence[str]) -> int:
    """Republish the whole history of ``topics`` in order; returns how many events."""
    published = 0
    for topic in topics:
        chunk: list[dict[str, Any]] = []
        async for record in outbox.history(topic):
            chunk.append(record)
            if len(chunk) == BATCH:
                published += await _send(outbox, bus, chunk)
                chunk = []
        published += await _send(outbox, bus, chunk)
    return published


async def _send(outbox: Outbox, bus: EventBus, records: list[dict[str, Any]]) -> int:
    if records:
        acks = await bus.publish_all(
            [(Envelope.model_validate(r["envelope"]), r["topic"]) for r in records]
        )
        await outbox.mark_sent(records, acks)
    return len(records)


class Relay:
    """Publishes pending outbox records; restores topics the broker has lost, at start and
    while running."""

    def __init__(
        self, outbox: Outbox, bus: EventBus, settings: Settings, topics: Sequence[str]
    ) -> None:
        self.outbox = outbox
        self.bus = bus
        self.settings = settings
        self.topics = topics
        self.probe = Probe(settings.kafka_bootstrap)
        self._stopping = False
        self._checked_at = float("-inf")
        self.restored = asyncio.Event()  # set once the broker is known to hold our history

    async def restore_lost_topics(self) -> int:
        """Republish, in order, each of our topics the broker no longer holds whole."""
        lost = []
        for topic in self.topics:
            ends = await self.outbox.ends(topic)
            if ends and await self.probe.lost(ends):
                lost.append(topic)
        if not lost:
            return 0
        republished = await replay(self.outbox, self.bus, lost)
        RELAY_REPUBLISHED.labels(source=self.outbox.source).inc(republished)
        log.warning(
            "the broker had lost events: republished their history",
            extra={"fields": {"topics": lost, "events": republished}},
        )
        return republished

    async def _check_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._checked_at < self.settings.log_check_s:
            return
        try:
            await self.restore_lost_topics()
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning(
                "could not check the broker for lost events; trying again",
                extra={"fields": {"error": repr(exc)}},
            )
            return
        self._checked_at = now
        self.restored.set()

    async def flush(self) -> int:
        """Publish every pending record, oldest first; returns how many."""
        total = 0
        while batch := await self.outbox.pending(BATCH):
            total += await _send(self.outbox, self.bus, batch)
        return total

    def stop(self) -> None:
        """Finish the current batch, send what is pending, then end ``run``."""
        self._stopping = True
        self.outbox.wake_relay()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self.probe.stop()

    async def _run(self) -> None:
        while not self.restored.is_set() and not self._stopping:
            await self._check_due()
            if not self.restored.is_set():
                await asyncio.sleep(self.settings.relay_interval_s)
        while True:
            try:
                await self._check_due()
                await self.flush()
                OUTBOX_PENDING.labels(source=self.outbox.source).set(
                    await self.outbox.records.count_documents({"status": PENDING})
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
            if self._stopping:
                return
            try:
                await asyncio.wait_for(
                    self.outbox.written.wait(), timeout=self.settings.relay_interval_s
                )
            except TimeoutError:
                pass
            self.outbox.written.clear()
