"""A large import on the embedded stack: does the rate hold, and does matching keep up?

    python -m bench.imports [--organisations 50000] [--block 5000]

Starts the embedded stack on free ports in a temporary directory (Tansu, SecantusDB
committing to disk before it answers, every service its own process, as ``pspx up``
runs them), then imports organisations through ``pspx import``'s own code, a block
at a time, and prints the rate of each block. The organisations are the demo
data's real UK charities, repeated under new identifiers with a numbered name.
After the last block it waits until matching ranks every imported organisation
and prints how long that took after the import ended, and how far behind the
exchange's replica and matching were at the end of each block.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from pspx.settings import Settings
from stack.demo.seed import DATA
from stack.importer import import_file
from stack.run import Stack, on_free_ports

SOURCE = DATA / "uk_charities.jsonl"


def organisations(count: int) -> Iterator[dict[str, Any]]:
    base = [json.loads(line) for line in SOURCE.read_text(encoding="utf-8").splitlines() if line]
    for n in range(count):
        row = dict(base[n % len(base)])
        row["id"] = f"GB-CHC-9{n:07d}"
        row["name"] = f"{row['name']} {n // len(base) + 1}"
        yield row


def write_blocks(folder: Path, count: int, block: int) -> list[Path]:
    paths: list[Path] = []
    rows = organisations(count)
    for start in range(0, count, block):
        path = folder / f"block-{start // block + 1:02d}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for _ in range(min(block, count - start)):
                out.write(json.dumps(next(rows)) + "\n")
        paths.append(path)
    return paths


def partners(matching: str) -> int:
    return int(httpx.get(f"{matching}/index", timeout=30).json()["partners"])


async def replica_count(settings: Settings) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        return await client[settings.database("exchange")]["organisations"].count_documents({})
    finally:
        await client.close()


def run(count: int, block: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        blocks = write_blocks(folder, count, block)
        settings = on_free_ports(Settings(data_dir=folder / "var"))
        stack = Stack(settings)
        try:
            stack.start()
            s = stack.settings
            registry, matching = s.service_url("registry"), s.service_url("matching")
            print(f"\n{count:,} organisations in blocks of {block:,} (sync-on-commit database)\n")
            print(
                "| block | organisations | seconds | a minute | matching behind | replica behind |"
            )
            print("| ---: | ---: | ---: | ---: | ---: | ---: |")
            rates = []
            done = 0
            importing = 0.0  # the blocks' own time, not the counting between them
            for i, path in enumerate(blocks, start=1):
                summary = import_file(registry, path, progress=False)
                importing += summary.seconds
                done += summary.rows
                rate = summary.rows / summary.seconds * 60
                rates.append(rate)
                behind_matching = done - partners(matching)
                behind_replica = done - asyncio.run(replica_count(s))
                print(
                    f"| {i} | {summary.rows:,} | {summary.seconds:.1f} | {rate:,.0f} | "
                    f"{behind_matching:,} | {behind_replica:,} |"
                )
            ended = time.perf_counter()
            while partners(matching) < count:
                time.sleep(0.2)
            rankable = time.perf_counter() - ended
            print(
                f"\nall {count:,} in {importing:.1f} s ({count / importing * 60:,.0f} a minute); "
                f"last block at {rates[-1] / rates[0]:.0%} of the first block's rate; "
                f"the last one rankable {rankable:.1f} s after the import ended"
            )
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisations", type=int, default=50_000)
    parser.add_argument("--block", type=int, default=5_000)
    args = parser.parse_args()
    run(args.organisations, args.block)


if __name__ == "__main__":
    main()
