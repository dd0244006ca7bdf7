"""The transactional outbox and its relay.

A service writes its change and the change's events in one Mongo transaction
(``Outbox.add`` inside ``pspx.mongo.in_transaction``). The relay publishes
pending records in order and marks them sent only after the broker's ack, so a
crash can duplicate an event but never lose one.

Records are kept after they are sent, with the position the broker gave them:
the embedded broker forgets everything on restart, so when a relay finds a
topic no longer holding the last event it sent there, it republishes that
topic's history in order (consumers are idempotent).
``pspx replay`` does the same on demand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import RecordMetadata
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from pspx.events import Envelope, Event, new_envelope
from pspx.kafka import EventBus, holds
from pspx.metrics import OUTBOX_PENDING
from pspx.settings import Settings

log = logging.getLogger(__name__)

BATCH = 200
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

    async def add(
        self,
        session: AsyncClientSession,
        events: Sequence[Event],
        *,
        aggregate_id: str,
        aggregate_version: int,
        correlation_id: str,
    ) -> list[Envelope]:
        """Stage events inside the caller's transaction; they exist only if it commits."""
        strays = sorted({e.topic for e in events} - self.topics)
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
            for event in events
        ]
        if envelopes:
            await self.records.insert_many(
                [
                    {
                        "_id": str(env.event_id),
                        "seq": _next_seq(),
                        "topic": type(event).topic,
                        "status": PENDING,
                        "envelope": env.model_dump(mode="json"),
                        "created_at": datetime.now(UTC),
                    }
                    for env, event in zip(envelopes, events, strict=True)
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

    async def last_sent(self, topic: str) -> dict[str, Any] | None:
        return await self.records.find_one(
            {"topic": topic, "status": SENT}, sort=[("sent_at", DESCENDING), ("seq", DESCENDING)]
        )


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
    """Publishes pending outbox records; restores topics a new broker has lost."""

    def __init__(
        self, outbox: Outbox, bus: EventBus, settings: Settings, topics: Sequence[str]
    ) -> None:
        self.outbox = outbox
        self.bus = bus
        self.settings = settings
        self.topics = topics
        self._stopping = False
        self.restored = asyncio.Event()  # set once lost topics are republished

    async def restore_lost_topics(self) -> int:
        """Republish any of our topics that no longer hold the last event we sent to them."""
        behind = [t for t in self.topics if not await self._holds_last(t)]
        if not behind:
            return 0
        republished = await replay(self.outbox, self.bus, behind)
        log.info(
            "republished events to a broker that had lost them",
            extra={"fields": {"topics": behind, "events": republished}},
        )
        return republished

    async def _holds_last(self, topic: str) -> bool:
        last = await self.outbox.last_sent(topic)
        if last is None or "offset" not in last:
            return True  # nothing sent yet: nothing to restore
        return await holds(self.settings, topic, last["partition"], last["offset"], last["_id"])

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
        while not self.restored.is_set() and not self._stopping:
            try:
                await self.restore_lost_topics()
                self.restored.set()
            except Exception:
                log.exception("could not check the broker for lost events; retrying")
                await asyncio.sleep(self.settings.relay_interval_s)
        while True:
            try:
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
