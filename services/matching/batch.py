"""Batch ranking: a needs JSONL file against a partners JSONL file.

This is the benchmark contract (``shared/data/README.md``): one output line
per need, in the needs file's order,
``{"need_id": ..., "ranking": [{"partner_id": ..., "score": ...}, ...]}``,
best first, at most ``top`` entries. It runs the service's engine with its
default settings. A need's ``region`` is a beneficiary location, not a
partner region, so it is not used as a filter; nor is a null service area.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from services.matching.documents import Document, Query, need_query, partner_document
from services.matching.engine import Engine, Settings


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def partner_from_record(record: dict[str, Any]) -> Document:
    return partner_document(
        str(record["id"]),
        record.get("name") or "",
        record.get("kind") or "",
        record.get("description") or "",
        activities=record.get("activities") or (),
        service_areas=record.get("service_areas") or (),
        regions=record.get("regions") or (),
        alternate_names=record.get("alternate_names") or (),
    )


def query_from_need(record: dict[str, Any]) -> Query:
    area = record.get("service_area")
    return need_query(
        record.get("title") or "",
        record.get("description") or "",
        record.get("outcomes") or (),
        service_areas=[area] if area else (),
    )


def build_engine(partners_path: Path, settings: Settings | None = None) -> Engine:
    engine = Engine(settings=settings)
    engine.build(partner_from_record(r) for r in read_jsonl(partners_path))
    return engine


def rank_needs(engine: Engine, needs: Sequence[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """The contract's output records, one per need, in order."""
    return [
        {
            "need_id": str(need["id"]),
            "ranking": [
                {"partner_id": hit.doc_id, "score": round(hit.score, 6)}
                for hit in engine.search(query_from_need(need), top, explain=False)
            ],
        }
        for need in needs
    ]


def rank_files(partners_path: Path, needs_path: Path, top: int, out_path: Path) -> int:
    """Rank every need in ``needs_path``; write ``out_path``; return the need count."""
    engine = build_engine(Path(partners_path))
    results = rank_needs(engine, list(read_jsonl(Path(needs_path))), top)
    with Path(out_path).open("w", encoding="utf-8") as out:
        for record in results:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rank needs against partners (JSONL).")
    parser.add_argument("--partners", type=Path, required=True)
    parser.add_argument("--needs", type=Path, required=True)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    count = rank_files(args.partners, args.needs, args.top, args.out)
    print(f"ranked {count} needs -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
