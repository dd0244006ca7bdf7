"""Demo data for a new installation, loaded through the registry's API like any client."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from stack.importer import ImportSummary, import_file

DATA = Path(__file__).parent / "data"
ORGANISATION_FILES = (
    "commissioners.jsonl",
    "uk_charities.jsonl",
    "partners_multilingual.jsonl",
    "platform.jsonl",
)


def is_empty(registry_url: str) -> bool:
    response = httpx.get(f"{registry_url}/organisations", params={"limit": 1}, timeout=10)
    response.raise_for_status()
    return not response.json()["items"]


def post_needs(registry_url: str, path: Path) -> tuple[int, int]:
    """Post each need unless its commissioner already has one with the same title."""
    posted = skipped = 0
    with httpx.Client(base_url=registry_url, timeout=30) as client:
        titles: dict[str, set[str]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            commissioner = row.pop("commissioner_id")
            if commissioner not in titles:
                page = client.get("/needs", params={"commissioner_id": commissioner, "limit": 200})
                page.raise_for_status()
                titles[commissioner] = {n["details"]["title"] for n in page.json()["items"]}
            if row["title"] in titles[commissioner]:
                skipped += 1
                continue
            response = client.post("/needs", json={"commissioner_id": commissioner, "details": row})
            if response.status_code != 201:
                raise RuntimeError(f"need {row['title']!r} refused: {response.text}")
            titles[commissioner].add(row["title"])
            posted += 1
    return posted, skipped


def seed(registry_url: str, progress: bool = True) -> list[str]:
    """Load every demo file; returns one line of figures per file."""
    report = []
    for name in ORGANISATION_FILES:
        summary: ImportSummary = import_file(registry_url, DATA / name, progress=progress)
        if summary.invalid:
            raise RuntimeError(f"{name}: invalid rows: {summary.invalid[:3]}")
        report.append(f"{name}: {summary.line()}")
    posted, skipped = post_needs(registry_url, DATA / "needs.jsonl")
    report.append(f"needs.jsonl: {posted} posted, {skipped} already there")
    return report
