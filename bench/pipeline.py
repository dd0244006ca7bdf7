"""End-to-end event pipeline: from a registry write to a rankable partner.

    python -m bench.pipeline [--writes 50] [--batch 500]

Starts the embedded stack (broker, database, every service as its own
process, on free ports, with a throwaway data folder) and measures, over HTTP
as a client sees it:

- one organisation registered at a time: the POST's latency, and the time
  from its 201 until the matching service ranks the new partner (outbox ->
  relay -> Kafka -> matching consumer -> index);
- a batch import: how long until every partner of the batch is in the index.

It runs the whole measurement once per consumer fetch wait (``--fetch-waits``,
default 500 ms, the Kafka client's own default, and 100 ms, ours), each on a
fresh stack, and prints them side by side.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from pspx.settings import Settings
from stack.run import Stack, on_free_ports


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1e3
    return (
        f"{np.percentile(ms, 50):.1f} | {np.percentile(ms, 95):.1f} | {ms.max():.1f} | "
        f"{statistics.mean(samples) * 1e3:.1f}"
    )


def wait_until(check: object, timeout_s: float = 30) -> None:
    deadline = time.perf_counter() + timeout_s
    while not check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("the pipeline did not deliver in time")
        time.sleep(0.002)


def organisation(word: str) -> dict[str, object]:
    return {
        "id": f"GB-CHC-{uuid.uuid4().int % 10**9}",
        "profile": {"name": f"Bench {word}", "kind": "charity", "description": f"{word} services"},
    }


def one_at_a_time(
    registry: httpx.Client, matching: httpx.Client, writes: int
) -> tuple[list[float], list[float]]:
    post_latency, to_rankable = [], []
    for _ in range(writes):
        word = f"w{uuid.uuid4().hex[:12]}"
        org = organisation(word)
        started = time.perf_counter()
        assert registry.post("/organisations", json=org).status_code == 201
        written = time.perf_counter()

        def ranked(word: str = word, org_id: object = org["id"]) -> bool:
            results = matching.post("/rank", json={"description": word, "limit": 1}).json()
            return bool(results["results"]) and results["results"][0]["id"] == org_id

        wait_until(ranked)
        post_latency.append(written - started)
        to_rankable.append(time.perf_counter() - written)
    return post_latency, to_rankable


def batch(registry: httpx.Client, matching: httpx.Client, size: int) -> tuple[float, float]:
    before = matching.get("/index").json()["partners"]
    rows = [organisation(f"b{uuid.uuid4().hex[:12]}") for _ in range(size)]
    started = time.perf_counter()
    assert registry.post("/organisations/import", json=rows, timeout=300).status_code == 200
    imported = time.perf_counter()
    wait_until(lambda: matching.get("/index").json()["partners"] >= before + size, timeout_s=300)
    return imported - started, time.perf_counter() - started


@dataclass
class Run:
    fetch_wait_ms: int
    post_latency: list[float]
    to_rankable: list[float]
    import_s: float
    all_rankable_s: float


def measure(fetch_wait_ms: int, writes: int, size: int) -> Run:
    with tempfile.TemporaryDirectory() as data:
        settings = on_free_ports(
            Settings(data_dir=Path(data), consumer_fetch_wait_ms=fetch_wait_ms)
        )
        stack = Stack(settings)
        try:
            stack.start()
            s = stack.settings
            with (
                httpx.Client(base_url=s.service_url("registry"), timeout=30) as registry,
                httpx.Client(base_url=s.service_url("matching"), timeout=30) as matching,
            ):
                posts, rankable = one_at_a_time(registry, matching, writes)
                import_s, all_s = batch(registry, matching, size)
        finally:
            stack.stop()
    return Run(fetch_wait_ms, posts, rankable, import_s, all_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--fetch-waits", default="500,100", help="comma-separated ms")
    args = parser.parse_args()
    runs = [measure(int(w), args.writes, args.batch) for w in args.fetch_waits.split(",")]
    print(f"\n{args.writes} registrations one at a time (services as separate processes)")
    print("| consumer fetch wait | measure | p50 ms | p95 ms | max ms | mean ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for run in runs:
        print(f"| {run.fetch_wait_ms} ms | registry POST | {percentiles(run.post_latency)} |")
        print(f"| {run.fetch_wait_ms} ms | 201 -> rankable | {percentiles(run.to_rankable)} |")
    print(f"\nimport of {args.batch} partners")
    print("| consumer fetch wait | committed s | all rankable s | partners/s end to end |")
    print("| --- | --- | --- | --- |")
    for run in runs:
        rate = args.batch / run.all_rankable_s
        cells = f"{run.import_s:.2f} | {run.all_rankable_s:.2f} | {rate:,.0f}"
        print(f"| {run.fetch_wait_ms} ms | {cells} |")


if __name__ == "__main__":
    main()
