"""Ranking quality on a judged data set: our engine, ablations, and BM25.

    python -m bench.quality [DATA_DIR] [--top 100]

DATA_DIR holds partners.jsonl, needs.jsonl and qrels.tsv (default: the
shared dev split next to the repository). The engine rows go through
``services.matching.batch.rank_needs``, i.e. exactly what the batch command
and the service compute.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import bm25s
import Stemmer

from bench.metrics import evaluate
from services.matching.batch import build_engine, rank_needs, read_jsonl
from services.matching.engine import Settings

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dev"
Rankings = dict[str, list[str]]


# Grant and commissioning boilerplate: words any funder's need may use about
# the money or the applicant (a grant, its funding, the project, the
# organisation or charity asking, "towards" the cost of staff), none of which
# says what service is wanted.
DOMAIN_QUERY_STOP_WORDS = (
    "grant",
    "fund",
    "funding",
    "project",
    "organisation",
    "charity",
    "towards",
    "cost",
    "costs",
    "salary",
    "salaries",
    "contribution",
)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            need, partner, grade = line.split("\t")
            qrels.setdefault(need, {})[partner] = int(grade)
    return qrels


def engine_run(
    data: Path, needs: Sequence[dict[str, Any]], settings: Settings, top: int
) -> Rankings:
    engine = build_engine(data / "partners.jsonl", settings)
    return {
        record["need_id"]: [entry["partner_id"] for entry in record["ranking"]]
        for record in rank_needs(engine, needs, top)
    }


def bm25_run(data: Path, needs: Sequence[dict[str, Any]], top: int, stem: bool) -> Rankings:
    """bm25s with its own tokenizer and English stop words; name, description
    and service areas concatenated once."""
    partners = list(read_jsonl(data / "partners.jsonl"))
    stemmer = Stemmer.Stemmer("english").stemWords if stem else None
    corpus = [
        " ".join([p.get("name") or "", p.get("description") or "", *(p.get("service_areas") or [])])
        for p in partners
    ]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(corpus, stemmer=stemmer, show_progress=False), show_progress=False
    )
    rankings: Rankings = {}
    for need in needs:
        text = " ".join([need.get("title") or "", need.get("description") or ""])
        tokens = bm25s.tokenize([text], stemmer=stemmer, return_ids=False, show_progress=False)
        known = [[t for t in tokens[0] if t in retriever.vocab_dict]]
        if not known[0]:
            rankings[str(need["id"])] = []
            continue
        k = min(top, len(partners))
        docs, scores = retriever.retrieve(known, k=k, show_progress=False)
        rankings[str(need["id"])] = [
            str(partners[i]["id"]) for i, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]
    return rankings


def title_repeated(needs: Sequence[dict[str, Any]], times: int) -> list[dict[str, Any]]:
    """The needs with each title counted ``times`` (query field weighting)."""
    return [{**need, "title": "\n".join([need.get("title") or ""] * times)} for need in needs]


def systems(
    data: Path, needs: Sequence[dict[str, Any]], top: int
) -> dict[str, Callable[[], Rankings]]:
    base = Settings()
    variants = {
        "engine (default)": base,
        "engine, no stemming": replace(base, stem=False),
        "engine, no field weights": replace(base, field_weights=False),
        "engine, stop words: stop-words package": replace(base, english_stop_words="package"),
        "engine, no stop words": replace(base, english_stop_words="none"),
        "engine, numbers kept": replace(base, keep_numbers=True),
        "engine, raw tf": replace(base, sublinear_tf=False),
        "engine, idf not smoothed": replace(base, smooth_idf=False),
        "engine, query boilerplate dropped": replace(
            base, query_stop_words=DOMAIN_QUERY_STOP_WORDS
        ),
        "engine, feedback on" if not base.feedback_docs else "engine, feedback off": replace(
            base, feedback_docs=0 if base.feedback_docs else 5
        ),
    }
    runs: dict[str, Callable[[], Rankings]] = {
        name: partial(engine_run, data, needs, settings, top) for name, settings in variants.items()
    }
    runs["engine, need title x2"] = partial(engine_run, data, title_repeated(needs, 2), base, top)
    runs["BM25 (bm25s, plain)"] = partial(bm25_run, data, needs, top, stem=False)
    runs["BM25 (bm25s, stemmed)"] = partial(bm25_run, data, needs, top, stem=True)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=DEFAULT_DATA)
    parser.add_argument("--top", type=int, default=100)
    args = parser.parse_args(argv)
    needs = list(read_jsonl(args.data / "needs.jsonl"))
    qrels = read_qrels(args.data / "qrels.tsv")
    print(f"data: {args.data} ({len(needs)} needs, {len(qrels)} judged)")
    print("| system | nDCG@10 | MRR@10 | R@50 | KI-R@50 | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    results: dict[str, dict[str, float]] = {}
    for name, run in systems(args.data, needs, args.top).items():
        start = time.perf_counter()
        scores = evaluate(run(), qrels)
        elapsed = time.perf_counter() - start
        results[name] = scores
        cells = " | ".join(f"{scores[m]:.3f}" for m in ("nDCG@10", "MRR@10", "R@50", "KI-R@50"))
        print(f"| {name} | {cells} | {elapsed:.1f} |", flush=True)
    ours = results["engine (default)"]["nDCG@10"]
    for baseline in ("BM25 (bm25s, plain)", "BM25 (bm25s, stemmed)"):
        theirs = results[baseline]["nDCG@10"]
        gain = (ours / theirs - 1) * 100 if theirs else float("inf")
        print(f"nDCG@10 vs {baseline}: {gain:+.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
