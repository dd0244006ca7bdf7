"""``pspx up``: the whole system on one machine, no Docker.

Starts the broker and the database as their own processes, then every service
that exists as its own uvicorn process, loads the demo data on first start,
and stops everything (services first) on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from types import FrameType

import httpx

from pspx import kafka
from pspx.settings import Settings
from stack import embedded
from stack.manifest import SERVICES


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


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(
            update={
                "kafka_bootstrap": f"127.0.0.1:{settings.kafka_port}",
                "mongo_url": f"mongodb://127.0.0.1:{settings.mongo_port}/?directConnection=true",
            }
        )
        self.data = settings.data_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

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
        self.procs.append(("kafka", embedded.start_broker(s.kafka_port, self.log("kafka"))))
        self.procs.append(
            ("mongo", embedded.start_mongo(s.mongo_port, self.data / "mongo", self.log("mongo")))
        )
        asyncio.run(kafka.ensure_topics(s))
        for svc in SERVICES:
            url = s.service_url(svc.name)
            proc = subprocess.Popen(
                [sys.executable, "-m", "stack.cli", "serve", svc.name],
                env=child_env(s),
                stdout=self.log(svc.name),
                stderr=subprocess.STDOUT,
            )
            self.procs.append((svc.name, proc))
            wait_ready(url, proc, svc.name)
            print(f"  {svc.name:<9} ready at {url}  (API docs: {url}/docs)")

    def stop(self) -> None:
        for name, proc in reversed(self.procs):
            embedded.stop(proc)
            print(f"  stopped {name}")
        self.procs.clear()

    def wait(self) -> None:
        """Block until Ctrl-C or SIGTERM, or until a part dies."""
        stopping = False

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stopping:
            for name, proc in self.procs:
                if proc.poll() is not None:
                    log = self.data / "logs" / f"{name}.log"
                    print(f"{name} exited with code {proc.returncode}; stopping (see {log})")
                    return
            time.sleep(0.5)
