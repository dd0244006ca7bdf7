"""What a part's death costs: parts of the embedded stack killed (SIGKILL) under load.

    python -m bench.faults [--registrations 2000] [--needs 50] [--concurrency 16]
                           [--parts mongo,kafka,registry,exchange,matching]

For each part, a fresh embedded stack run as ``pspx up`` runs it (the broker,
the database committing to disk before it answers, every service its own
process, all supervised), and a load of registrations and needs over HTTP, so
many at a time. When a third of the registrations are acknowledged the part is
killed; the supervisor starts it again. When the load is done, the harness
waits for the system to converge and counts:

* lost: acknowledged registrations the registry, the event log, matching's
  index or the exchange's replica does not have, and acknowledged needs
  without a shortlist;
* applied twice: one fact under two event ids: a registry aggregate version,
  a need's shortlist at a version, or a need-partner alert;
* ready: seconds from the kill until the part answered again (the
  supervisor's one-second backoff included);
* converged: seconds from the end of the load until nothing was missing.

Registrations are retried until acknowledged (registering is idempotent on the
identifier: a retry of one that was stored but not answered gets 409, which
means it is there). Needs are not retried: one whose answer was lost may or may
not exist, and is counted as neither acknowledged nor lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from pspx import topics
from pspx.events import Envelope
from pspx.settings import Settings
from stack.run import Stack, on_free_ports

PARTS = ("mongo", "kafka", "registry", "exchange", "matching")
SERVICES = {"registry", "exchange", "matching"}
COUNCIL = {"id": "GB-LAE-FLT", "profile": {"name": "Fault Test Council", "kind": "public_body"}}
CONVERGE_S = 180.0


@dataclass
class Report:
    parts: list[str]
    acknowledged: int = 0
    needs: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    applied_twice: dict[str, int] = field(default_factory=dict)
    ready_s: dict[str, float] = field(default_factory=dict)
    converged_s: float | None = None

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def applied_twice_total(self) -> int:
        return sum(self.applied_twice.values())


@contextlib.asynccontextmanager
async def running(data: Path) -> AsyncIterator[Stack]:
    """The embedded stack on free ports, supervised in a thread as ``pspx up`` does."""
    settings = on_free_ports(Settings(data_dir=data, log_check_s=1.0))
    stack = Stack(settings)
    stop = threading.Event()
    watcher = threading.Thread(target=stack.watch, args=(stop.is_set,), daemon=True)
    try:
        await asyncio.to_thread(stack.start)
        watcher.start()
        yield stack
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(timeout=5)
        await asyncio.to_thread(stack.stop)


def kill(stack: Stack, name: str) -> None:
    proc = stack.part(name).proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)


async def until_ready(stack: Stack, name: str) -> None:
    """Wait for a part to answer again: its readiness for a service, its port otherwise."""
    s = stack.settings
    await asyncio.sleep(0.2)  # the kill has landed
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if name in SERVICES:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{s.service_url(name)}/readyz")).status_code == 200:
                        return
            else:
                port = s.kafka_port if name == "kafka" else s.mongo_port
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    return
            await asyncio.sleep(0.1)


class Load:
    def __init__(self, registry: str, registrations: int, needs: int, concurrency: int) -> None:
        self.registry = registry
        prefix = f"GB-CHC-8{uuid.uuid4().int % 10**4:04d}"
        self.org_ids = [f"{prefix}{n:05d}" for n in range(registrations)]
        self.needs_wanted = needs
        self.acked: list[str] = []
        self.need_ids: list[str] = []
        self.gate = asyncio.Semaphore(concurrency)
        self.progress = asyncio.Condition()
        self.done = False

    async def until_acknowledged(self, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.acked) >= count or self.done)

    async def run(self, client: httpx.AsyncClient) -> None:
        await self._register(client, COUNCIL)
        every = max(1, len(self.org_ids) // max(self.needs_wanted, 1))
        jobs = []
        for n, org_id in enumerate(self.org_ids):
            jobs.append(self._registration(client, org_id, n))
            if n % every == 0 and len(jobs) // every <= self.needs_wanted:
                jobs.append(self._need(client, n))
        try:
            await asyncio.gather(*jobs)
        finally:
            async with self.progress:
                self.done = True
                self.progress.notify_all()

    async def _registration(self, client: httpx.AsyncClient, org_id: str, n: int) -> None:
        profile = {
            "name": f"Fault Test Befrienders {n}",
            "kind": "charity",
            "description": f"Befriending and transport for isolated older people, group {n % 7}",
            "regions": ["England"],
            "service_areas": ["Older people"],
        }
        async with self.gate:
            await self._register(client, {"id": org_id, "profile": profile})
        async with self.progress:
            self.acked.append(org_id)
            self.progress.notify_all()

    async def _register(self, client: httpx.AsyncClient, body: dict[str, Any]) -> None:
        while True:  # idempotent on the identifier: retry until the registry says it has it
            with contextlib.suppress(httpx.HTTPError):
                response = await client.post("/organisations", json=body)
                if response.status_code in (201, 409):
                    return
            await asyncio.sleep(0.2)

    async def _need(self, client: httpx.AsyncClient, n: int) -> None:
        details = {
            "title": f"Befriending older people {n}",
            "description": "Befriending and transport for isolated older people",
        }
        async with self.gate:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.post(
                    "/needs", json={"commissioner_id": COUNCIL["id"], "details": details}
                )
                if response.status_code == 201:
                    self.need_ids.append(response.json()["id"])


async def read_log(settings: Settings, topic: str) -> list[Envelope]:
    """Every envelope on a topic, read until two fetches in a row bring nothing."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    envelopes: list[Envelope] = []
    quiet = 0
    try:
        while quiet < 2:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for record in records:
                    with contextlib.suppress(ValueError):
                        envelopes.append(Envelope.model_validate_json(record.value or b""))
    finally:
        await consumer.stop()
    return envelopes


async def missing(stack: Stack, load: Load) -> dict[str, int]:
    """What the system does not have of what it acknowledged, per place."""
    s = stack.settings
    acked = set(load.acked)
    async with httpx.AsyncClient(timeout=30) as client:
        in_registry: set[str] = set()
        ids = sorted(acked)
        for start in range(0, len(ids), 200):
            page = await client.get(
                f"{s.service_url('registry')}/organisations",
                params={"id": ids[start : start + 200], "limit": 200},
            )
            in_registry |= {o["id"] for o in page.json()["items"]}
        # The stack holds this load's charities only: matching's count of partners is exact.
        index = await client.get(f"{s.service_url('matching')}/index")
        in_index = int(index.json()["partners"])
    registered = {
        e.aggregate_id
        for e in await read_log(s, topics.ORGANISATIONS)
        if e.event_type == "organisation.registered"
    }
    ranked = {
        e.aggregate_id
        for e in await read_log(s, topics.MATCHES)
        if e.event_type == "matching.shortlist.ranked"
    }
    return {
        "registry": len(acked - in_registry),
        "log": len(acked - registered),
        "matching": len(acked) - in_index,
        "replica": len(acked) - await replica_count(s, acked),
        "shortlists": len(set(load.need_ids) - ranked),
    }


async def replica_count(settings: Settings, acked: set[str]) -> int:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        docs = client[settings.database("exchange")]["organisations"].find({}, {"_id": 1})
        return len({d["_id"] async for d in docs} & acked)
    finally:
        await client.close()


async def applied_twice(settings: Settings) -> dict[str, int]:
    """Facts that exist under more than one event id (a duplicate delivery keeps its id)."""
    ids: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for topic in (topics.ORGANISATIONS, topics.NEEDS):
        for e in await read_log(settings, topic):
            ids[(topic, e.aggregate_id, str(e.aggregate_version))].add(str(e.event_id))
    for e in await read_log(settings, topics.MATCHES):
        payload = e.payload
        if e.event_type == "matching.shortlist.ranked":
            key = ("shortlist", payload["need_id"], str(e.aggregate_version))
        else:
            key = ("alert", payload["need_id"], payload["partner_id"])
        ids[key].add(str(e.event_id))
    twice: dict[str, int] = defaultdict(int)
    for key, event_ids in ids.items():
        if len(event_ids) > 1:
            twice[key[0]] += 1
    return {
        "registry": twice["registry.organisations"] + twice["registry.needs"],
        "shortlists": twice["shortlist"],
        "alerts": twice["alert"],
    }


async def scenario(
    parts: list[str], registrations: int, needs: int, concurrency: int, data: Path
) -> Report:
    """Kill each of ``parts`` in turn while the load runs; report what it cost."""
    report = Report(parts=parts)
    async with running(data) as stack:
        load = Load(stack.settings.service_url("registry"), registrations, needs, concurrency)
        async with httpx.AsyncClient(base_url=load.registry, timeout=10) as client:
            work = asyncio.create_task(load.run(client))
            for i, name in enumerate(parts, start=1):
                await load.until_acknowledged(registrations * i // (len(parts) + 2))
                killed_at = time.monotonic()
                kill(stack, name)
                await until_ready(stack, name)
                report.ready_s[name] = time.monotonic() - killed_at
            await work
        ended = time.monotonic()
        report.acknowledged, report.needs = len(load.acked), len(load.need_ids)
        while True:
            report.lost = await missing(stack, load)
            if report.lost_total == 0 or time.monotonic() - ended > CONVERGE_S:
                break
            await asyncio.sleep(1)
        if report.lost_total == 0:
            report.converged_s = time.monotonic() - ended
        report.applied_twice = await applied_twice(stack.settings)
    return report


def table(reports: list[Report]) -> str:
    rows = [
        "| killed | acknowledged | needs | lost | applied twice | ready again (s) "
        "| converged (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in reports:
        ready = ", ".join(f"{r.ready_s[p]:.1f}" for p in r.parts)
        converged = f"{r.converged_s:.1f}" if r.converged_s is not None else "never"
        lost = f"{r.lost_total}" + (f" {json.dumps(r.lost)}" if r.lost_total else "")
        twice = f"{r.applied_twice_total}" + (
            f" {json.dumps(r.applied_twice)}" if r.applied_twice_total else ""
        )
        rows.append(
            f"| {', '.join(r.parts)} | {r.acknowledged:,} | {r.needs} | {lost} | {twice} | "
            f"{ready} | {converged} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=2000)
    parser.add_argument("--needs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args()
    reports = []
    for part in args.parts.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            reports.append(
                asyncio.run(
                    scenario([part], args.registrations, args.needs, args.concurrency, Path(tmp))
                )
            )
        print(table(reports[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(reports))


if __name__ == "__main__":
    main()
