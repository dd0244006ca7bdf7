"""``pspx up``: the whole system on one machine, no Docker.

Starts the broker and the database as their own processes, then every service
of the manifest as its own process (``pspx serve``), in the manifest's order,
each ready before the next. While it runs it watches them as compose's restart
policy would: a part that dies is started again after a backoff, with a line
saying so; the system converges by itself (a new, empty broker gets its
history back from the producers' outboxes; a restarted database has kept every
acknowledged write). Everything stops, services first, on Ctrl-C or SIGTERM,
or when a part keeps failing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import httpx
from aiokafka.errors import KafkaError

from pspx import kafka
from pspx.settings import Settings
from stack import embedded
from stack.manifest import SERVICES

RESTARTS_ALLOWED = 5  # within RESTART_WINDOW_S; one more and everything stops
RESTART_WINDOW_S = 60.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0


def child_env(settings: Settings) -> dict[str, str]:
    """The parent's environment plus every setting, so each service sees the same ones."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        env[f"PSPX_{name.upper()}"] = str(value)
    env["PSPX_KAFKA_IDEMPOTENCE"] = "false"  # the embedded broker refuses InitProducerId
    return env


def wait_ready(url: str, proc: subprocess.Popen[bytes], name: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise embedded.StartFailed(f"{name} exited with code {proc.returncode}; see its log")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise embedded.StartFailed(f"{name} was not ready within {timeout_s:.0f} s; see its log")


def on_free_ports(settings: Settings) -> Settings:
    """The same settings with every port of the embedded stack a free one: a stack of its own
    beside any other (benchmarks run one so)."""
    ports = {"kafka_port": embedded.free_port(), "mongo_port": embedded.free_port()}
    ports |= {svc.port_setting: embedded.free_port() for svc in SERVICES}
    return settings.model_copy(update=ports)


def embedded_settings(settings: Settings) -> Settings:
    """The settings the embedded parts are reached with.

    The embedded database keeps retryable-write bookkeeping that grows with every
    write, slowing a long import down; it is a single node, so there is nothing to
    retry against: retryable writes are off here (production MongoDB keeps them).
    """
    return settings.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{settings.kafka_port}",
            "mongo_url": (
                f"mongodb://127.0.0.1:{settings.mongo_port}/?directConnection=true&retryWrites=false"
            ),
        }
    )


@dataclass
class Part:
    """One process of the stack, and how to start it again."""

    name: str
    launch: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None  # when a dead part is due to start again

    def backoff(self) -> float:
        return min(BACKOFF_FIRST_S * 2 ** len(self.restarts), BACKOFF_MAX_S)


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = embedded_settings(settings)
        self.data = settings.data_dir
        self.parts: list[Part] = []
        self._stopping = False

    def log(self, name: str) -> int:
        logs = self.data / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return os.open(logs / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def start(self) -> None:
        s = self.settings
        embedded.check_ports(
            {
                "Kafka (PSPX_KAFKA_PORT)": s.kafka_port,
                "MongoDB (PSPX_MONGO_PORT)": s.mongo_port,
                **{
                    f"{svc.name} (PSPX_{svc.port_setting.upper()})": svc.port(s) for svc in SERVICES
                },
            }
        )
        print(f"starting the broker on {s.kafka_bootstrap} and the database on port {s.mongo_port}")
        self._run(Part("kafka", lambda: embedded.start_broker(s.kafka_port, self.log("kafka"))))
        self._run(
            Part(
                "mongo",
                lambda: embedded.start_mongo(
                    s.mongo_port, self.data / "mongo", self.log("mongo"), sync_on_commit=True
                ),
            )
        )
        asyncio.run(kafka.ensure_topics(s))
        for svc in SERVICES:
            url = s.service_url(svc.name)
            part = self._run(Part(svc.name, self._service(svc.name)))
            assert part.proc is not None
            wait_ready(url, part.proc, svc.name)
            print(f"  {svc.name:<9} ready at {url}  ({svc.entry(s)})")

    def _service(self, name: str) -> Callable[[], subprocess.Popen[bytes]]:
        def launch() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "stack.cli", "serve", name],
                env=child_env(self.settings),
                stdout=self.log(name),
                stderr=subprocess.STDOUT,
            )

        return launch

    def _run(self, part: Part) -> Part:
        part.proc = part.launch()
        if part not in self.parts:
            self.parts.append(part)
        return part

    def stop(self) -> None:
        for part in reversed(self.parts):
            if part.proc is not None:
                embedded.stop(part.proc)
            print(f"  stopped {part.name}")
        self.parts.clear()

    def wait(self) -> None:
        """Watch the parts until Ctrl-C or SIGTERM, starting again any that dies; return
        early if one keeps failing."""

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            self._stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        self.watch(lambda: self._stopping)

    def watch(self, stop: Callable[[], bool]) -> bool:
        """Supervise the parts until ``stop()``; False if one kept failing."""
        while not stop():
            for part in self.parts:
                if not self.supervise(part):
                    return False
            time.sleep(0.2)
        return True

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)

    def supervise(self, part: Part) -> bool:
        """Start a dead part again when its backoff is over; False when it keeps failing."""
        now = time.monotonic()
        if part.restart_at is not None:
            if now >= part.restart_at:
                part.restart_at = None
                try:
                    self._run(part)
                    if part.name == "kafka":  # an empty broker: its topics before anyone writes
                        asyncio.run(kafka.ensure_topics(self.settings))
                except (embedded.StartFailed, KafkaError, OSError) as exc:
                    print(f"{part.name} did not start again: {exc}", flush=True)
                    return self._schedule(part, now)
                print(f"{part.name} started again", flush=True)
            return True
        if part.proc is None or part.proc.poll() is None:
            return True
        print(f"{part.name} exited with code {part.proc.returncode}", end="; ", flush=True)
        return self._schedule(part, now)

    def _schedule(self, part: Part, now: float) -> bool:
        while part.restarts and now - part.restarts[0] > RESTART_WINDOW_S:
            part.restarts.popleft()
        if len(part.restarts) >= RESTARTS_ALLOWED:
            log = self.data / "logs" / f"{part.name}.log"
            print(
                f"it failed {len(part.restarts) + 1} times within {RESTART_WINDOW_S:.0f} s; "
                f"stopping everything (see {log})",
                flush=True,
            )
            return False
        delay = part.backoff()
        part.restarts.append(now)
        part.restart_at = now + delay
        print(f"starting it again in {delay:.0f} s", flush=True)
        return True
