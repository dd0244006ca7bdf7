"""Fixtures that start the real parts: a Tansu broker and a SecantusDB server over sockets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from prometheus_client import REGISTRY

from pspx.events import Envelope
from pspx.settings import Settings
from stack import embedded, manifest
from stack.run import child_env, wait_ready


@dataclass
class Stack:
    kafka_port: int
    mongo_port: int

    def settings(self, **overrides: Any) -> Settings:
        """Settings for one test: its own databases on the shared servers."""
        values: dict[str, Any] = {
            "kafka_bootstrap": f"127.0.0.1:{self.kafka_port}",
            "mongo_url": f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true",
            "db_prefix": f"t{uuid.uuid4().hex[:10]}",
            "relay_interval_s": 0.2,
        }
        values.update(overrides)
        return Settings(**values)


@pytest.fixture(scope="session")
def mongo_port() -> Iterator[int]:
    port = embedded.free_port()
    proc = embedded.start_mongo(port, storage=None)
    yield port
    embedded.stop(proc)


@pytest.fixture(scope="session")
def stack(mongo_port: int) -> Iterator[Stack]:
    port = embedded.free_port()
    proc = embedded.start_broker(port)
    yield Stack(port, mongo_port)
    embedded.stop(proc)


@pytest.fixture
def fresh_stack(mongo_port: int) -> Iterator[Stack]:
    """A broker of its own, for tests that restart or lose it."""
    port = embedded.free_port()
    proc = embedded.start_broker(port)
    yield Stack(port, mongo_port)
    embedded.stop(proc)


def serve(settings: Settings, name: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``pspx serve <name>`` as a process of its own, its output appended to ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "stack.cli", "serve", name],
            env=child_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def processes(settings: Settings, names: list[str], logs: Path) -> Iterator[dict[str, str]]:
    """Each named service as its own process (``pspx serve``) on a free port; yields the URLs.

    Started in the order given, each ready before the next; stopped in reverse.
    """
    ports = {manifest.spec(n).port_setting: embedded.free_port() for n in names}
    settings = settings.model_copy(update=ports)
    logs.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for name in names:
            proc = serve(settings, name, logs / f"{name}.log")
            started.append(proc)
            urls[name] = settings.service_url(name)
            wait_ready(urls[name], proc, name)
        yield urls
    finally:
        for proc in reversed(started):
            embedded.stop(proc)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def read_topic(
    settings: Settings,
    topic: str,
    until: Callable[[list[tuple[bytes | None, Envelope]]], bool],
    timeout_s: float = 15,
) -> list[tuple[bytes | None, Envelope]]:
    """Read a topic from the beginning until ``until(records)`` holds; returns (key, envelope)s.

    Messages that are not envelopes are skipped, as every reader here does.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[tuple[bytes | None, Envelope]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                break
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for m in messages:
                    try:
                        records.append((m.key, Envelope.model_validate(json.loads(m.value))))
                    except ValueError:
                        continue  # poison left on the shared broker by a test of it

        return records
    finally:
        await consumer.stop()


async def read_raw(
    settings: Settings, topic: str, count: int
) -> list[tuple[bytes, dict[str, str]]]:
    """The first ``count`` raw messages of a topic with their headers (or fewer after 15 s)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[tuple[bytes, dict[str, str]]] = []
    try:
        for _ in range(75):
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                out += [(m.value, {k: v.decode() for k, v in m.headers}) for m in messages]
            if len(out) >= count:
                break
        return out
    finally:
        await consumer.stop()


def skipped(consumer: str, event_type: str) -> float:
    """How many events of ``event_type`` the named consumer has skipped in this process."""
    labels = {"consumer": consumer, "event_type": event_type}
    return REGISTRY.get_sample_value("pspx_events_skipped_total", labels) or 0.0
