"""Kafka topics fanned out to GraphQL subscribers in this process.

Every gateway replica follows the alert topics itself, from the latest offset,
with no consumer group (``pspx.follow``), and hands each event to the
subscriptions open on it. It keeps the last ``live_window_s`` of events, so a
client that reconnects (to this replica or another) with the cursor of the
last alert it received gets what it missed: a cursor holds, for each
partition, the offset the alert's replica had read up to, and offsets are the
same on every replica. Events replayed by a broker that lost its history are
older than the window or already seen, and are not sent again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pspx.consumers import Batch, Intake, Record
from pspx.events import CATALOGUE, Envelope, Event
from pspx.follow import Follower
from pspx.settings import Settings
from pspx.spec import Subscription

log = logging.getLogger(__name__)

Positions = dict[str, int]  # "topic/partition" -> the next offset to read
QUEUE = 1000  # alerts a slow subscriber may fall behind by before it is dropped


class BadCursor(ValueError):
    """A resume cursor this gateway did not issue."""


def encode(positions: Positions) -> str:
    return base64.urlsafe_b64encode(json.dumps(positions, sort_keys=True).encode()).decode()


def decode(cursor: str) -> Positions:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor("not a cursor this API issued") from exc
    if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
        raise BadCursor("not a cursor this API issued")
    return {str(k): v for k, v in data.items()}


@dataclass(frozen=True)
class Delivery:
    """One event as subscribers get it, with the cursor to resume after it."""

    partition: str
    offset: int
    cursor: str
    envelope: Envelope
    event: Event


class _Overflow(Exception):
    pass


class Hub:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._recent: deque[tuple[float, Delivery]] = deque()
        self._seen: dict[str, float] = {}
        self._positions: Positions = {}
        self._listeners: set[asyncio.Queue[Delivery | _Overflow]] = set()

    def publish(self, batch: Batch, where: dict[str, tuple[str, int]]) -> None:
        """Hand a batch to every listener; ``where`` gives each event id's partition and
        offset."""
        now = time.monotonic()
        oldest = datetime.now(UTC) - timedelta(seconds=self.window_s)
        self._forget(now)
        for envelope, event in batch:
            key = str(envelope.event_id)
            partition, offset = where[key]
            self._positions[partition] = max(self._positions.get(partition, 0), offset + 1)
            if key in self._seen or envelope.occurred_at < oldest:
                continue  # a replay of what was sent, or history a lost broker got back
            self._seen[key] = now
            delivery = Delivery(partition, offset, encode(self._positions), envelope, event)
            self._recent.append((now, delivery))
            for queue in list(self._listeners):
                try:
                    queue.put_nowait(delivery)
                except asyncio.QueueFull:
                    self._listeners.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(_Overflow())

    def cursor(self) -> str:
        """Where the log stands now: a subscription given it misses nothing from this moment,
        such as a page's live updates that connect a little after the page was rendered."""
        return encode(self._positions)

    def _forget(self, now: float) -> None:
        while self._recent and now - self._recent[0][0] > self.window_s:
            self._recent.popleft()
        for key in [k for k, at in self._seen.items() if now - at > self.window_s]:
            del self._seen[key]

    async def listen(self, after: str | None = None) -> AsyncIterator[Delivery]:
        """Every event from now on; with ``after``, first those since that cursor that this
        replica still holds."""
        queue: asyncio.Queue[Delivery | _Overflow] = asyncio.Queue(QUEUE)
        self._listeners.add(queue)
        try:
            sent: set[str] = set()
            if after is not None:
                since = decode(after)
                for _, delivery in list(self._recent):
                    if delivery.offset >= since.get(delivery.partition, 0):
                        sent.add(str(delivery.envelope.event_id))
                        yield delivery
            while True:
                item = await queue.get()
                if isinstance(item, _Overflow):
                    raise RuntimeError("the subscriber fell too far behind; resubscribe")
                if str(item.envelope.event_id) not in sent:
                    yield item
        finally:
            self._listeners.discard(queue)


class _Reader(Intake):
    """An intake that remembers where each event of the batch in hand was read."""

    def __init__(self, settings: Settings, subscription: Subscription, hub: Hub) -> None:
        handled = [k for k in CATALOGUE.values() if k.topic in subscription.topics]
        super().__init__(None, settings, subscription, handled, self._publish)
        self.hub = hub
        self._where: dict[str, tuple[str, int]] = {}

    async def take(self, records: Sequence[Record]) -> None:
        self._where = {_event_id(r): (f"{r.topic}/{r.partition}", r.offset) for r in records}
        await super().take(records)

    async def _publish(self, batch: Batch) -> None:
        self.hub.publish(batch, self._where)


def _event_id(record: Record) -> str:
    for key, value in record.headers or ():
        if key == "event_id":
            return value.decode()
    try:
        return str(json.loads(record.value or b"")["event_id"])
    except (ValueError, KeyError, TypeError):
        return f"{record.topic}/{record.partition}@{record.offset}"


def follower(settings: Settings, subscription: Subscription, hub: Hub) -> Follower:
    return Follower(_Reader(settings, subscription, hub), settings, on_caught_up=None)
