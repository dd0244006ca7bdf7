"""Load organisations from JSONL through the registry's API (validated, idempotent on id).

A line is ``{"id", "name", "kind", "description", "regions", "service_areas"}``
(the matching benchmark's format) and may carry any other profile field
(``alternate_names``, ``activities``, ``languages``, ``website``, ...).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from pspx.http import field_errors
from services.registry.api import RegisterOrganisation

IN_FLIGHT = 4  # batches posted at once: the registry writes some while the next is read here


@dataclass
class ImportSummary:
    registered: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return self.registered + self.updated + self.unchanged

    def line(self) -> str:
        rate = self.rows / self.seconds * 60 if self.seconds else 0.0
        return (
            f"{self.registered} registered, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.invalid)} invalid in {self.seconds:.1f} s ({rate:,.0f} a minute)"
        )


def registration(row: dict[str, Any]) -> RegisterOrganisation:
    profile = {k: v for k, v in row.items() if k != "id"}
    return RegisterOrganisation.model_validate({"id": row.get("id"), "profile": profile})


def read(path: Path) -> Iterator[tuple[int, RegisterOrganisation | str]]:
    """Each line as a registration, or as the reason it is invalid."""
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                yield number, registration(json.loads(text))
            except json.JSONDecodeError as exc:
                yield number, f"line {number}: not JSON ({exc.msg})"
            except ValidationError as exc:
                problems = "; ".join(
                    f"{e['field']}: {e['problem']}" for e in field_errors(list(exc.errors()))
                )
                yield number, f"line {number}: {problems}"


def post_batch(client: httpx.Client, batch: list[RegisterOrganisation]) -> dict[str, int]:
    response = client.post(
        "/organisations/import", json=[r.model_dump(mode="json") for r in batch], timeout=120
    )
    if response.status_code != 200:
        raise RuntimeError(f"the registry refused a batch: {response.status_code} {response.text}")
    counts: dict[str, int] = response.json()
    return counts


def import_file(
    registry_url: str,
    path: Path,
    batch_size: int = 500,
    progress: bool = True,
    in_flight: int = IN_FLIGHT,
) -> ImportSummary:
    """Post the file's organisations in batches (one transaction each on the registry's side),
    ``in_flight`` at a time, so that reading and validating here overlaps the writing there."""
    from tqdm import tqdm

    total = sum(1 for line in path.open(encoding="utf-8") if line.strip())
    summary = ImportSummary()
    started = time.perf_counter()
    batch: list[RegisterOrganisation] = []
    seen: set[str] = set()
    sent: deque[Future[dict[str, int]]] = deque()

    def settle(future: Future[dict[str, int]]) -> None:
        counts = future.result()
        summary.registered += counts["registered"]
        summary.updated += counts["updated"]
        summary.unchanged += counts["unchanged"]

    with (
        httpx.Client(base_url=registry_url) as client,
        ThreadPoolExecutor(max_workers=in_flight) as pool,
        tqdm(total=total, unit="org", disable=not progress, desc=path.name) as bar,
    ):
        for _, row in read(path):
            if isinstance(row, str):
                summary.invalid.append(row)
            elif row.id in seen:
                summary.invalid.append(f"{row.id}: appears more than once in the file")
            else:
                seen.add(row.id)
                batch.append(row)
            bar.update(1)
            if len(batch) == batch_size:
                if len(sent) == in_flight:
                    settle(sent.popleft())
                sent.append(pool.submit(post_batch, client, batch))
                batch = []
        if batch:
            sent.append(pool.submit(post_batch, client, batch))
        while sent:
            settle(sent.popleft())
    summary.seconds = time.perf_counter() - started
    return summary
