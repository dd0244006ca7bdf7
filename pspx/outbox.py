"""The transactional outbox and its relay.

A service writes its change and the change's events in one Mongo transaction
(``Outbox.stage`` inside ``pspx.mongo.in_transaction``): each event goes into
the history (``outbox``, kept for ever, in order) and the change as a whole
gets one pending marker (``outbox_pending``) carrying its events. The relay
publishes the events of pending changes in order and deletes a change's marker
only after the broker acknowledged all of them, so a crash can duplicate an
event but never lose one. One marker a change rather than a flag an event: an
import of 500 organisations costs the relay one read and one delete, and never
a read of the history, which only a replay needs.

The relay notes, per partition, where the broker put the first and the last
event it sent there (``outbox_positions``). It checks, at start and then every
``log_check_s``, that the broker still holds them; when a topic lost any of its
history (the embedded broker forgets everything on restart, a rebuilt cluster
starts empty), the relay republishes the topic's history in order, appended
after whatever the broker holds now, so a consumer at any position reads it
all again (consumers are idempotent). ``pspx replay`` does the same on demand.

Events are numbered from one counter in the database (``outbox_sequence``), so
an aggregate's events keep their order whichever replica staged them; and
however many replicas run, only the one holding the lease (``pspx.lease``)
publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pspx.events import Envelope, Event, new_envelope
from pspx.kafka import EventBus, Probe, ensure_topics
from pspx.lease import Lease, LeaseLost
from pspx.metrics import OUTBOX_PENDING, RELAY_REPUBLISHED
from pspx.settings import Settings

log = logging.getLogger(__name__)

BATCH = 500  # events published per round trip to the broker
SEQUENCE_ID = "outbox"


def history_id(topic: str, seq: int) -> str:
    """A history record's id: its topic, then its sequence, so that ids sort in order."""
    return f"{topic}/{seq:020d}"


class Outbox:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], source: str, topics: Sequence[str]
    ) -> None:
        self.records = db["outbox"]  # every event staged, in order: the history
        self.pending = db["outbox_pending"]  # a change not yet sent, with its events
        self.positions = db["outbox_positions"]  # where the broker put each partition's ends
        self.sequence = db["outbox_sequence"]  # the last sequence number given out
        self.leases = db["outbox_lease"]  # which replica's relay publishes
        self.source = source
        self.topics = frozenset(topics)
        self.written = asyncio.Event()

    async def ensure_indexes(self) -> None:
        # The history needs no index of its own: its ids sort by topic, then sequence.
        await self.pending.create_index([("seq", ASCENDING)])
        # Counting on from the clock at first, so that numbers stay above those of a history
        # numbered by the clock alone.
        with contextlib.suppress(DuplicateKeyError):  # another replica made it first
            await self.sequence.update_one(
                {"_id": SEQUENCE_ID}, {"$max": {"last": time.time_ns()}}, upsert=True
            )

    async def _numbers(self, count: int) -> list[int]:
        """``count`` sequence numbers above every number given before, from one counter in
        the service's database. Taken outside the caller's transaction, so transactions never
        conflict over it (a retried one takes new numbers; gaps are harmless). A change to an
        aggregate is staged after the change before it committed, and so after that change
        took its numbers: an aggregate's events stay in version order whichever replica wrote
        them, whatever its clock says."""
        counted = await self.sequence.find_one_and_update(
            {"_id": SEQUENCE_ID},
            {"$inc": {"last": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if counted is None:  # an upsert always answers with the document
            raise RuntimeError("the outbox sequence could not be read")
        last = int(counted["last"])
        return list(range(last - count + 1, last + 1))

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
        transaction, as one pending change; they exist only if it commits."""
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
        if not envelopes:
            return envelopes
        now = datetime.now(UTC)
        seqs = await self._numbers(len(envelopes))
        records = [
            {
                "_id": history_id(event.topic, seq),
                "event_id": str(env.event_id),
                "topic": event.topic,
                "envelope": env.model_dump(mode="json"),
                "created_at": now,
            }
            for seq, env, (event, _, _) in zip(seqs, envelopes, items, strict=True)
        ]
        await self.records.insert_many(records, session=session)
        marker = {
            "_id": str(uuid.uuid4()),
            "seq": seqs[0],
            "count": len(records),
            "events": [{k: r[k] for k in ("event_id", "topic", "envelope")} for r in records],
        }
        await self.pending.insert_one(marker, session=session)
        return envelopes

    def wake_relay(self) -> None:
        self.written.set()

    async def pending_changes(self, events: int) -> list[dict[str, Any]]:
        """The oldest pending changes, about ``events`` events' worth (at least one change)."""
        changes: list[dict[str, Any]] = []
        total = 0
        async for marker in self.pending.find().sort("seq", ASCENDING).limit(events):
            changes.append(marker)
            total += marker["count"]
            if total >= events:
                break
        return changes

    async def sent(self, changes: Sequence[dict[str, Any]]) -> None:
        await self.pending.delete_many({"_id": {"$in": [c["_id"] for c in changes]}})

    async def note_positions(
        self, records: Sequence[dict[str, Any]], acks: Sequence[RecordMetadata]
    ) -> None:
        """Remember, per partition, the first event ever acknowledged there and the last."""
        ends: dict[tuple[str, int], tuple[dict[str, Any], RecordMetadata]] = {}
        firsts: dict[tuple[str, int], tuple[dict[str, Any], RecordMetadata]] = {}
        for record, ack in zip(records, acks, strict=True):
            key = (ack.topic, ack.partition)
            firsts.setdefault(key, (record, ack))
            ends[key] = (record, ack)
        await self.positions.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{topic}/{partition}"},
                    {
                        "$setOnInsert": {
                            "topic": topic,
                            "partition": partition,
                            "first": {
                                "offset": firsts[(topic, partition)][1].offset,
                                "event_id": firsts[(topic, partition)][0]["event_id"],
                            },
                        },
                        "$set": {"last": {"offset": ack.offset, "event_id": record["event_id"]}},
                    },
                    upsert=True,
                )
                for (topic, partition), (record, ack) in ends.items()
            ]
        )

    async def ends(self, topic: str) -> dict[TopicPartition, dict[int, str]]:
        """Per partition, the offsets of the first and the last event sent there, with their
        event ids: what the broker must still hold for the history to be whole."""
        ends: dict[TopicPartition, dict[int, str]] = {}
        async for doc in self.positions.find({"topic": topic, "first": {"$exists": True}}):
            tp = TopicPartition(topic, doc["partition"])
            for end in (doc["first"], doc["last"]):
                ends.setdefault(tp, {})[end["offset"]] = end["event_id"]
        return ends

    async def begin_replay(self, topic: str) -> None:
        """Forget where the broker put the topic's ends, and note that its history is being
        laid down anew until ``end_replay``: an interrupted replay is started again."""
        await self.positions.delete_many({"topic": topic})
        await self.positions.replace_one(
            {"_id": f"replay/{topic}"}, {"replaying": topic}, upsert=True
        )

    async def end_replay(self, topic: str) -> None:
        await self.positions.delete_one({"_id": f"replay/{topic}"})

    async def replaying(self, topic: str) -> bool:
        return await self.positions.find_one({"_id": f"replay/{topic}"}) is not None

    async def history(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Every event of a topic in publication order, sent or not."""
        ids = {"$gte": history_id(topic, 0), "$lt": f"{topic}0"}  # "0" sorts right after "/"
        async for record in self.records.find({"_id": ids}).sort("_id", ASCENDING):
            yield record


async def replay(outbox: Outbox, bus: EventBus, topics: Sequence[str]) -> int:
    """Republish the whole history of ``topics`` in order; returns how many events."""
    published = 0
    for topic in topics:
        await outbox.begin_replay(topic)
        chunk: list[dict[str, Any]] = []
        async for record in outbox.history(topic):
            chunk.append(record)
            if len(chunk) == BATCH:
                published += await _send(outbox, bus, chunk)
                chunk = []
        published += await _send(outbox, bus, chunk)
        await outbox.end_replay(topic)
    return published


async def _send(outbox: Outbox, bus: EventBus, records: list[dict[str, Any]]) -> int:
    if records:
        acks = await bus.publish_all(
            [(Envelope.model_validate(r["envelope"]), r["topic"]) for r in records]
        )
        await outbox.note_positions(records, acks)
    return len(records)


class Relay:
    """Publishes pending changes' events while this replica holds the lease; restores topics
    the broker has lost, at start and while running."""

    def __init__(
        self,
        outbox: Outbox,
        bus: EventBus,
        settings: Settings,
        topics: Sequence[str],
        holder: str,
    ) -> None:
        self.outbox = outbox
        self.bus = bus
        self.settings = settings
        self.topics = topics
        self.lease = Lease(outbox.leases, holder, timedelta(seconds=settings.relay_lease_s))
        self.probe = Probe(settings.kafka_bootstrap)
        self._stopping = False
        self._checked_at = float("-inf")
        # Set once the broker is known to hold our history, or another replica's relay is
        # seeing to it: consumers started after us will find it.
        self.restored = asyncio.Event()

    async def restore_lost_topics(self) -> int:
        """Republish, in order, each of our topics the broker no longer holds whole."""
        lost = []
        for topic in self.topics:
            if await self.outbox.replaying(topic):  # a replay was interrupted
                lost.append(topic)
                continue
            ends = await self.outbox.ends(topic)
            found = await self.probe.lost(ends) if ends else set()
            if found:
                lost.append(topic)
        if not lost:
            return 0
        await ensure_topics(self.settings)  # a new broker: its topics as they should be
        republished = await replay(self.outbox, self.bus, lost)
        RELAY_REPUBLISHED.labels(source=self.outbox.source).inc(republished)
        log.warning(
            "the broker had lost events: republished their history",
            extra={"fields": {"topics": lost, "events": republished}},
        )
        return republished

    async def _check_due(self) -> bool:
        """Whether the broker is known to hold our history, checking it when due."""
        now = asyncio.get_running_loop().time()
        if now - self._checked_at < self.settings.log_check_s:
            return True
        try:
            await self.restore_lost_topics()
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning(
                "could not check the broker for lost events; trying again",
                extra={"fields": {"error": repr(exc)}},
            )
            return False
        self._checked_at = now
        self.restored.set()
        return True

    async def flush(self) -> int:
        """Publish the events of every pending change, oldest first; returns how many."""
        total = 0
        while changes := await self.outbox.pending_changes(BATCH):
            if not await self.lease.hold():  # renewed as a long backlog goes out
                raise LeaseLost(self.lease.holder)
            records = [event for change in changes for event in change["events"]]
            total += await _send(self.outbox, self.bus, records)
            await self.lease.fence()
            await self.outbox.sent(changes)
        return total

    def stop(self) -> None:
        """Finish the current batch, send what is pending, then end ``run``."""
        self._stopping = True
        self.outbox.wake_relay()

    async def run(self) -> None:
        while True:
            await self._round()
            if self._stopping:
                await self.lease.release()
                return
            try:
                await asyncio.wait_for(
                    self.outbox.written.wait(), timeout=self.settings.relay_interval_s
                )
            except TimeoutError:
                pass
            self.outbox.written.clear()

    async def _round(self) -> None:
        pending = OUTBOX_PENDING.labels(source=self.outbox.source)
        try:
            if not await self.lease.hold():
                self._checked_at = float("-inf")  # on taking over, check the broker first
                self.restored.set()
                pending.set(0)  # the holder reports what is pending
                return
            if await self._check_due():
                await self.flush()
            pending.set(await self.outbox.pending.count_documents({}))
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            log.warning("this replica's relay lost the lease; another publishes now")
        except Exception:
            log.exception("outbox relay failed; retrying")
