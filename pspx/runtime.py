"""One service's connections and background work, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from pspx import consumers, kafka, logs, mongo
from pspx.consumers import BatchHandler, Intake
from pspx.events import CATALOGUE, Envelope, Event
from pspx.follow import Follower
from pspx.kafka import EventBus
from pspx.lease import replica_name
from pspx.outbox import Outbox, Relay
from pspx.settings import Settings
from pspx.spec import ServiceSpec

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0


def _failed(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


def _report_failure(task: asyncio.Task[None]) -> None:
    if _failed(task):
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())


def topics_doc(topic: str) -> str:
    kinds = sorted(
        f"{name} (v{kind.version})" for name, kind in CATALOGUE.items() if kind.topic == topic
    )
    return f"Envelopes keyed by aggregate id. Event types: {', '.join(kinds)}."


@dataclass
class Runtime:
    """A service's Mongo database, Kafka broker, event bus and (if it produces) outbox.

    Built from the service's manifest entry: the topics it produces get an outbox
    relay and a place in the AsyncAPI document; ``consume`` wires a batch handler
    to one of the entry's subscriptions.

    The broker is connected in the background: a service starts, answers and
    reports itself ready (its HTTP API needs only its database) while the broker
    is away or a consumer group is still waiting for a killed member to leave;
    publishing and consuming begin when the broker answers.
    """

    spec: ServiceSpec
    settings: Settings
    service: str = field(init=False)
    produces: Sequence[str] = field(init=False)
    mongo: AsyncMongoClient[dict[str, Any]] = field(init=False)
    db: AsyncDatabase[dict[str, Any]] = field(init=False)
    kafka: KafkaBroker = field(init=False)
    bus: EventBus = field(init=False)
    outbox: Outbox = field(init=False)
    relay: Relay | None = field(default=None, init=False)
    followers: list[Follower] = field(default_factory=list, init=False)
    consuming: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _relay_task: asyncio.Task[None] | None = field(default=None, init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.service = self.spec.name
        self.produces = self.spec.produces
        self.mongo = mongo.client(self.settings)
        self.db = mongo.database(self.mongo, self.settings, self.service)
        self.kafka = kafka.broker(self.settings, client_id=f"pspx-{self.service}")
        self.bus = EventBus(self.kafka)
        self.outbox = Outbox(self.db, source=self.service, topics=self.produces)
        for topic in self.produces:
            # Declared for the AsyncAPI document; the outbox relay does the publishing.
            self.kafka.publisher(
                topic,
                title=f"{self.service}:{topic}",
                description=topics_doc(topic),
                schema=Envelope,
            )

    def consume(
        self,
        name: str,
        handled: Collection[type[Event]],
        on_batch: BatchHandler,
        on_caught_up: Callable[[], Awaitable[None]] | None = None,
    ) -> Intake:
        """Feed the named subscription's events of the ``handled`` types to ``on_batch``, a
        batch at a time; call before ``start``. With a consumer group it is a FastStream
        subscriber committing after each batch; without, a follower (``on_caught_up`` is
        called once the log as it stood at start has been handed over)."""
        subscription = self.spec.subscription(name)
        intake = Intake(self.kafka, self.settings, subscription, handled, on_batch)
        if subscription.group is None:
            self.followers.append(Follower(intake, self.settings, on_caught_up))
        else:
            consumers.subscribe(self.kafka, intake, self.settings, title=f"{self.service}.{name}")
        return intake

    def background(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        task = asyncio.create_task(work(), name=f"{self.service}.{name}")
        task.add_done_callback(_report_failure)
        self._tasks.append(task)

    async def start(self) -> None:
        await self.outbox.ensure_indexes()
        self.background(self._connect, "kafka")

    async def _connect(self) -> None:
        """Connect to the broker (waiting while it is away), then relay, follow and consume."""
        await self._until_connected()
        if self.produces:
            holder = replica_name(self.spec.port(self.settings))
            self.relay = Relay(self.outbox, self.bus, self.settings, self.produces, holder)
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}.relay")
        for follower in self.followers:
            self.background(follower.run, f"follow.{follower.subscription.name}")
        delay = RETRY_FIRST_S
        while True:
            try:
                # Consumer groups: the join may wait for a killed member's session to end.
                await self.kafka.start()
                break
            except Exception as exc:
                log.warning(
                    "could not start consuming; trying again",
                    extra={"fields": {"error": repr(exc), "in_s": delay}},
                )
                await self.kafka.stop()
                await asyncio.sleep(delay)
                delay = min(2 * delay, RETRY_MAX_S)
                await self._until_connected()
        self.consuming.set()

    async def _until_connected(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                await kafka.ensure_topics(self.settings)
                await self.kafka.connect()
                return
            except Exception as exc:
                log.warning(
                    "the broker does not answer yet; trying again",
                    extra={"fields": {"error": repr(exc), "in_s": delay}},
                )
                await asyncio.sleep(delay)
                delay = min(2 * delay, RETRY_MAX_S)

    async def stop(self) -> None:
        if self.relay is not None and self._relay_task is not None:
            # Let the relay drain what was committed; a cancel mid-batch would resend it.
            self.relay.stop()
            try:
                await asyncio.wait_for(self._relay_task, timeout=10)
            except TimeoutError:
                log.warning("outbox not drained at shutdown; the rest is sent on restart")
            self._relay_task = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.kafka.stop()
        await self.mongo.close()

    async def ready(self) -> dict[str, bool]:
        checks = {"mongo": False, "kafka": False}
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.mongo.admin.command("ping"), timeout=2)
            checks["mongo"] = True
        with contextlib.suppress(Exception):
            checks["kafka"] = await self.kafka.ping(timeout=2)
        tasks = [*self._tasks, *([self._relay_task] if self._relay_task else [])]
        # A task may finish by design (a one-off load); only a failed one is unhealthy.
        checks["background"] = not any(_failed(t) for t in tasks)
        if self.relay is not None:
            # Consumers started after us should find our history on the broker.
            checks["events_restored"] = self.relay.restored.is_set()
        return checks

    def lifespan(
        self, setup: Callable[[], Awaitable[None]] | None = None
    ) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
        """A FastAPI lifespan: start everything, run ``setup``, stop everything."""

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            logs.configure(self.service, self.settings.log_level)
            await self.start()
            if setup is not None:
                await setup()
            log.info("service started", extra={"fields": {"service": self.service}})
            try:
                yield
            finally:
                await self.stop()

        return lifespan
