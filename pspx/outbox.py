"""The transactional outbox and its relay.

A service writes its change and the change's events in one Mongo transaction
(``Outbox.add`` inside ``pspx.mongo.in_transaction``). The relay publishes
pending records in order and marks them sent only after the broker's ack, so a
crash can duplicate an event but never lose one.

Records are kept after they are sent: the embedded broker forgets everything
on restart, so when a relay finds a topic holding fewer messages than it has
sent, it republishes that topic's history in order (consumers are idempotent).
``pspx replay`` does the same on demand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from pspx.events import Envelope, Event, new_envelope
from pspx.kafka import EventBus, message_counts
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
    def __init__(self, db: AsyncDatabase[dict[str, Any]], source: str) -> None:
        self.records = db["outbox"]
        self.source = source
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

    async def mark_sent(self, ids: Sequence[str]) -> None:
        if ids:
            await self.records.update_many(
                {"_id": {"$in": list(ids)}},
                {"$set": {"status": SENT, "sent_at": datetime.now(UTC)}},
            )

    async def history(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Every record of a topic in publication order, sent or not."""
        async for record in self.records.find({"topic": topic}).sort("seq", ASCENDING):
            yield record

    async def count_sent(self, topic: str) -> int:
        return await self.records.count_documents({"topic": topic, "status": SENT})


async def publish_records(bus: EventBus, records: Sequence[dict[str, Any]]) -> None:
    await bus.publish_all([(Envelope.model_validate(r["envelope"]), r["topic"]) for r in records])


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
        await publish_records(bus, records)
        await outbox.mark_sent([r["_id"] for r in records if r["status"] != SENT])
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

    async def restore_lost_topics(self) -> int:
        """Republish any of our topics that hold fewer messages than we have sent."""
        counts = await message_counts(self.settings, self.topics)
        behind = [t for t in self.topics if counts.get(t, 0) < await self.outbox.count_sent(t)]
        if not behind:
            return 0
        republished = await replay(self.outbox, self.bus, behind)
        log.info(
            "republished events to a broker that had lost them",
            extra={"fields": {"topics": behind, "events": republished}},
        )
        return republished

    async def flush(self) -> int:
        """Publish every pending record, oldest first; returns how many."""
        total = 0
        while batch := await self.outbox.pending(BATCH):
            total += await _send(self.outbox, self.bus, batch)
        return total

    async def run(self) -> None:
        await self.restore_lost_topics()
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
            try:
                await asyncio.wait_for(
                    self.outbox.written.wait(), timeout=self.settings.relay_interval_s
                )
            except TimeoutError:
                pass
            self.outbox.written.clear()
