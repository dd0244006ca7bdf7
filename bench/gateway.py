"""What the GraphQL gateway costs a partner search.

    python -m bench.gateway [--partners 5000] [--seconds 5] [--clients 1,10,50]

Starts the embedded stack (broker, database, every service and the gateway,
each its own process, on free ports, with a throwaway data folder), imports
``--partners`` synthetic charities, and when all are rankable measures, with
``--clients`` concurrent clients each sending its next request as soon as
the last is answered, for ``--seconds`` per cell:

- `matching HTTP`: ``POST /rank`` on the matching service directly: 10
  partners with score and reasons;
- `gateway GraphQL`: the same search through ``searchPartners`` (10 partners,
  score and reasons), so the difference is what the gateway adds;
- `gateway GraphQL + profiles`: the same with each partner's name, kind and
  regions, one batched registry call a request through the DataLoader;
- `strawberry hello`: ``{ hello }`` on a bare strawberry app on the same
  ASGI stack (FastAPI, uvicorn, one process): the most any GraphQL
  endpoint of ours could answer.

Then, in this process, where the gateway's own time goes: the CPU a call to a
service costs its caller with httpx and with aiohttp, and the CPU of one
search in the gateway (the GraphQL operation alone, and with the ASGI app
around it) with matching's recorded answer in place of the call.

Every system is measured in the same run, in turn at each concurrency; the
client is an aiohttp session in this process, the same for all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np

from gateway.clients import MatchingClient
from pspx.settings import Settings
from stack.embedded import free_port
from stack.run import Stack, on_free_ports

WORDS = (
    "befriending lunch clubs older people isolation mental health wellbeing peer support "
    "housing homelessness tenancy advice debt welfare rights employability training youth "
    "sport coaching carers respite dementia cafe transport volunteering food bank parcels "
    "refugees language classes family support parenting domestic abuse recovery addiction "
    "gardening allotments arts music heritage digital inclusion literacy autism learning "
    "disability advocacy hospital discharge falls prevention physical activity walking"
).split()
REGIONS = ["Fife", "Leeds", "Glasgow", "Cardiff", "Bristol", "Belfast", "Norfolk", "Kent"]

SEARCH = """query Search($text: String!) { searchPartners(search: {text: $text}, first: 10)
  { rank partnerId score reasons { term weight } } }"""
SEARCH_WITH_PROFILES = """query Search($text: String!) {
  searchPartners(search: {text: $text}, first: 10) { rank partnerId score
    reasons { term weight } partner { name kind regions } } }"""

Request = Callable[[aiohttp.ClientSession, str], Any]


def charities(n: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "id": f"GB-CHC-{9_000_000 + i}",
            "profile": {
                "name": f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} Trust {i}",
                "kind": "charity",
                "description": " ".join(rng.choices(WORDS, k=rng.randint(20, 60))),
                "regions": [rng.choice(REGIONS)],
            },
        }
        for i in range(n)
    ]


def queries(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(4, 12))) for _ in range(n)]


# --- the peers -----------------------------------------------------------------------------


def matching_rank(url: str) -> Request:
    async def send(client: aiohttp.ClientSession, text: str) -> None:
        async with client.post(f"{url}/rank", json={"description": text, "limit": 10}) as r:
            data = await r.json()
        assert r.status == 200 and len(data["results"]) == 10, data

    return send


def graphql(url: str, query: str | None) -> Request:
    async def send(client: aiohttp.ClientSession, text: str) -> None:
        body = {"query": query, "variables": {"text": text}} if query else {"query": "{ hello }"}
        async with client.post(f"{url}/graphql", json=body) as r:
            data = await r.json()
        assert r.status == 200 and "errors" not in data, data
        if query:
            assert len(data["data"]["searchPartners"]) == 10, data

    return send


@dataclass
class Cell:
    system: str
    clients: int
    latencies: list[float]
    seconds: float

    def row(self) -> str:
        ms = np.array(self.latencies) * 1e3
        p50, p95 = np.percentile(ms, 50), np.percentile(ms, 95)
        rate = len(self.latencies) / self.seconds
        return f"| {self.system} | {self.clients} | {p50:.2f} | {p95:.2f} | {rate:,.0f} |"


async def load(send: Request, texts: list[str], clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as client:
        for text in texts[:20]:  # warm up: connections open, code paths run once
            await send(client, text)
        deadline = time.perf_counter() + seconds

        async def worker(n: int) -> None:
            i = n
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await send(client, texts[i % len(texts)])
                latencies.append(time.perf_counter() - started)
                i += clients

        await asyncio.gather(*(worker(n) for n in range(clients)))
    return latencies


# --- where the gateway's time goes: its CPU a request, in this process ----------------------


class RecordedMatching(MatchingClient):
    """Matching as the gateway calls it, answering a search with an answer the real service
    gave in this run: so the gateway's own CPU is measured without the call's."""

    def __init__(self, answer: Any) -> None:
        super().__init__("http://127.0.0.1:9")  # never called: ``rank`` answers itself
        self.answer = answer

    async def rank(self, query: Any) -> Any:
        return self.answer


async def _asgi_post(app: Any, path: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent


def cpu_per_request(rank_answer: Any, texts: list[str], n: int = 1000) -> list[tuple[str, float]]:
    """CPU milliseconds a search costs the gateway itself, matching's answer given."""
    from gateway.app import build
    from gateway.auth import verifier
    from gateway.clients import ExchangeClient, RegistryClient
    from gateway.schema.context import Services
    from stack.manifest import GATEWAY

    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data))
        services = Services(
            registry=RegistryClient(settings.service_url("registry")),  # a search asks neither
            exchange=ExchangeClient(settings.service_url("exchange")),
            matching=RecordedMatching(rank_answer),
            verifier=verifier(settings),
        )
        app = build(GATEWAY, settings, services=services)
        return _timed_steps(app, services, texts, n)


def _timed_steps(app: Any, services: Any, texts: list[str], n: int) -> list[tuple[str, float]]:
    from gateway.live import Hub
    from gateway.schema import schema
    from gateway.schema.context import Context

    async def execute(text: str) -> None:
        result = await schema.execute(
            SEARCH, variable_values={"text": text}, context_value=Context(services, Hub(60))
        )
        assert not result.errors, result.errors

    async def through_http(text: str) -> None:
        await _asgi_post(app, "/graphql", {"query": SEARCH, "variables": {"text": text}})

    async def timed(step: Callable[[str], Any]) -> float:
        for text in texts[:50]:
            await step(text)
        started = time.process_time()
        for i in range(n):
            await step(texts[i % len(texts)])
        return (time.process_time() - started) / n * 1e3

    return [
        (
            "the GraphQL operation (parse and checks cached, 141 fields)",
            asyncio.run(timed(execute)),
        ),
        ("the gateway's ASGI app around it", asyncio.run(timed(through_http))),
    ]


async def client_cpu(url: str, n: int = 1000) -> list[tuple[str, float]]:
    """CPU milliseconds one call to a service costs its caller, by HTTP client."""
    body = {"query": "{ hello }"}
    async with httpx.AsyncClient() as client:
        for _ in range(50):
            (await client.post(url, json=body)).json()
        started = time.process_time()
        for _ in range(n):
            (await client.post(url, json=body)).json()
        with_httpx = (time.process_time() - started) / n * 1e3
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            async with session.post(url, json=body) as r:
                await r.json()
        started = time.process_time()
        for _ in range(n):
            async with session.post(url, json=body) as r:
                await r.json()
        with_aiohttp = (time.process_time() - started) / n * 1e3
    return [
        ("a call with httpx", with_httpx),
        ("a call with aiohttp (the gateway's)", with_aiohttp),
    ]


# --- the ceiling: a bare strawberry app ----------------------------------------------------


def serve_hello(port: int) -> None:
    import strawberry
    import uvicorn
    from fastapi import FastAPI
    from strawberry.fastapi import GraphQLRouter

    @strawberry.type
    class Query:
        @strawberry.field
        def hello(self) -> str:
            return "hello"

    app = FastAPI()
    app.include_router(GraphQLRouter(strawberry.Schema(query=Query)), prefix="/graphql")
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{url}/graphql", json={"query": "{ hello }"}).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


def wait_rankable(matching: str, expected: int, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{matching}/index").json()["partners"] < expected:
        if time.monotonic() > deadline:
            raise TimeoutError("the partners did not reach the index")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--partners", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,10,50", help="comma-separated concurrencies")
    parser.add_argument("--serve-hello", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello(args.serve_hello)
        return

    rng = random.Random(20261123)
    texts = queries(500, rng)
    concurrencies = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as data:
        settings = on_free_ports(Settings(data_dir=Path(data)))
        hello_port = free_port()
        hello = subprocess.Popen(
            [sys.executable, "-m", "bench.gateway", "--serve-hello", str(hello_port)]
        )
        stack = Stack(settings)
        try:
            stack.start()
            s = stack.settings
            rows = charities(args.partners, rng)
            for start in range(0, len(rows), 1000):
                imported = httpx.post(
                    f"{s.service_url('registry')}/organisations/import",
                    json=rows[start : start + 1000],
                    timeout=300,
                )
                assert imported.status_code == 200, imported.text
            wait_rankable(s.service_url("matching"), args.partners)
            hello_url = f"http://127.0.0.1:{hello_port}"
            wait_for(hello_url)
            gateway = s.service_url("gateway")
            systems = {
                "matching HTTP": matching_rank(s.service_url("matching")),
                "gateway GraphQL": graphql(gateway, SEARCH),
                "gateway GraphQL + profiles": graphql(gateway, SEARCH_WITH_PROFILES),
                "strawberry hello": graphql(hello_url, None),
            }
            cells = [
                Cell(name, c, asyncio.run(load(send, texts, c, args.seconds)), args.seconds)
                for c in concurrencies
                for name, send in systems.items()
            ]
            rank_answer = httpx.post(
                f"{s.service_url('matching')}/rank", json={"description": texts[0], "limit": 10}
            ).json()
            breakdown = asyncio.run(client_cpu(f"{hello_url}/graphql"))
        finally:
            stack.stop()
            hello.terminate()
            hello.wait()

    print(f"\npartner search, {args.partners:,} partners, {args.seconds:g} s a cell")
    print("| system | clients | p50 ms | p95 ms | requests/s |")
    print("| --- | --- | --- | --- | --- |")
    for cell in cells:
        print(cell.row())
    print("\nwhat the gateway adds to a search (gateway GraphQL - matching HTTP)")
    print("| clients | p50 ms | p95 ms |")
    print("| --- | --- | --- |")
    for c in concurrencies:
        by = {x.system: np.array(x.latencies) * 1e3 for x in cells if x.clients == c}
        direct, through = by["matching HTTP"], by["gateway GraphQL"]
        p50 = np.percentile(through, 50) - np.percentile(direct, 50)
        p95 = np.percentile(through, 95) - np.percentile(direct, 95)
        print(f"| {c} | {p50:+.2f} | {p95:+.2f} |")
    breakdown += cpu_per_request(rank_answer, texts)
    print("\nwhere it goes: CPU ms a request, in one process")
    print("| step | CPU ms |")
    print("| --- | --- |")
    for step, ms in breakdown:
        print(f"| {step} | {ms:.2f} |")


if __name__ == "__main__":
    main()
