"""Speed and memory of our engine, bm25s and tantivy on one synthetic corpus.

    python -m bench.speed [--sizes 10000,50000,200000] [--queries 300] [--adds 200]

The corpus is generated with a fixed seed: words drawn from a Zipfian
distribution (exponent 1.07) over a 60,000-word vocabulary whose most frequent
entries are real English stop words, so every system sees the same text and
the same queries. Partners have a 3-word name, a ~60-word description, two
service areas and a region; queries have ~15 words (a need description).

Each (system, size) runs in its own child process so memory figures do not
leak into one another. Every child is pinned to one thread: BLAS/OpenMP
variables set to 1 and threadpoolctl limits for ours, ``n_threads=1`` for
bm25s, a one-thread writer and single-threaded search for tantivy.

Measured per system and size: build time (text in, index ready to query),
query latency p50/p95 for top-10 (single thread; ours includes the
explanations the service returns), adding one partner until it is
searchable, and memory as the growth of the process's resident set size
(psutil RSS) across the build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

SEED = 20240601
VOCABULARY = 60_000
ZIPF_EXPONENT = 1.07
SYSTEMS = ("ours", "bm25s", "tantivy")
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "RAYON_NUM_THREADS",
)


@dataclass(frozen=True)
class Corpus:
    names: list[str]
    descriptions: list[str]
    areas: list[list[str]]
    regions: list[str]
    queries: list[str]


def make_words(rng: np.random.Generator) -> np.ndarray:
    """Stop words first (they are the most frequent in real text), then
    pseudo-words of 3 to 10 letters."""
    words = sorted(ENGLISH_STOP_WORDS)
    rng.shuffle(words)
    seen = set(words)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(letters, rng.integers(3, 11)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return np.array(words, dtype=object)


def make_corpus(size: int, queries: int, seed: int = SEED) -> Corpus:
    rng = np.random.default_rng(seed)
    words = make_words(rng)
    ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
    cumulative = np.cumsum(ranks**-ZIPF_EXPONENT)
    cumulative /= cumulative[-1]

    def text(count: int) -> str:
        return " ".join(words[np.searchsorted(cumulative, rng.random(count))])

    area_names = [f"{text(2)}" for _ in range(60)]
    region_names = [f"region {i}" for i in range(12)]
    return Corpus(
        names=[text(3) for _ in range(size)],
        descriptions=[text(int(rng.integers(30, 90))) for _ in range(size)],
        areas=[[area_names[i] for i in rng.choice(60, 2, replace=False)] for _ in range(size)],
        regions=[region_names[int(rng.integers(12))] for _ in range(size)],
        queries=[text(int(rng.integers(8, 22))) for _ in range(queries)],
    )


def flat_text(corpus: Corpus, i: int) -> str:
    return " ".join([corpus.names[i], corpus.descriptions[i], *corpus.areas[i]])


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def percentile(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


class Runner(Protocol):
    incremental: bool  # whether one document can be added without a rebuild

    def build(self) -> None: ...
    def query(self, text: str) -> object: ...
    def add(self, i: int) -> None: ...


class Ours:
    incremental = True

    def __init__(self, corpus: Corpus) -> None:
        from services.matching.documents import need_query, partner_document
        from services.matching.engine import Engine

        self.corpus, self.engine = corpus, Engine()
        self.need_query, self.partner_document = need_query, partner_document

    def doc(self, i: int, doc_id: str) -> Any:
        c = self.corpus
        return self.partner_document(
            doc_id,
            c.names[i],
            "charity",
            c.descriptions[i],
            service_areas=c.areas[i],
            regions=[c.regions[i]],
        )

    def build(self) -> None:
        self.engine.build(self.doc(i, str(i)) for i in range(len(self.corpus.names)))

    def query(self, text: str) -> object:
        return self.engine.search(self.need_query("", text), 10)

    def add(self, i: int) -> None:
        self.engine.upsert(self.doc(i, f"new-{i}"))


class Bm25s:
    def __init__(self, corpus: Corpus) -> None:
        import bm25s
        import Stemmer

        self.bm25s, self.corpus = bm25s, corpus
        self.stemmer = Stemmer.Stemmer("english").stemWords
        self.retriever = bm25s.BM25()

    def build(self) -> None:
        texts = [flat_text(self.corpus, i) for i in range(len(self.corpus.names))]
        tokens = self.bm25s.tokenize(texts, stemmer=self.stemmer, show_progress=False)
        self.retriever.index(tokens, show_progress=False)

    def query(self, text: str) -> object:
        tokens = self.bm25s.tokenize(
            [text], stemmer=self.stemmer, return_ids=False, show_progress=False
        )
        known = [[t for t in tokens[0] if t in self.retriever.vocab_dict]]
        return self.retriever.retrieve(known, k=10, show_progress=False, n_threads=1)

    incremental = False

    def add(self, i: int) -> None:
        """bm25s indexes a corpus once; adding means rebuilding, so it is not timed."""


class Tantivy:
    incremental = True

    def __init__(self, corpus: Corpus) -> None:
        import tantivy

        self.tantivy, self.corpus = tantivy, corpus
        analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stopword("english"))
            .filter(tantivy.Filter.stemmer("english"))
            .build()
        )
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("body", tokenizer_name="en_stop_stem", index_option="freq")
        self.index = tantivy.Index(builder.build())
        self.index.register_tokenizer("en_stop_stem", analyzer)
        self.writer = self.index.writer(200_000_000, 1)

    def build(self) -> None:
        for i in range(len(self.corpus.names)):
            self.writer.add_document(
                self.tantivy.Document(id=str(i), body=flat_text(self.corpus, i))
            )
        self.writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()

    def query(self, text: str) -> object:
        query = self.index.parse_query(text, ["body"])
        result = self.searcher.search(query, 10)
        return [self.searcher.doc(address)["id"] for _, address in result.hits]

    def add(self, i: int) -> None:
        self.writer.add_document(
            self.tantivy.Document(id=f"new-{i}", body=flat_text(self.corpus, i))
        )
        self.writer.commit()
        self.index.reload()
        self.searcher = self.index.searcher()


def measure(system: str, size: int, queries: int, adds: int) -> dict[str, float | None]:
    """Runs inside a child process pinned to one thread."""
    import psutil
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    corpus = make_corpus(size, queries)
    runners: dict[str, Callable[[Corpus], Runner]] = {
        "ours": Ours,
        "bm25s": Bm25s,
        "tantivy": Tantivy,
    }
    runner = runners[system](corpus)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    build = timed(runner.build)
    rss = process.memory_info().rss - rss_before
    for text in corpus.queries[:20]:  # warm caches
        runner.query(text)
    latencies = [timed(partial(runner.query, text)) for text in corpus.queries]
    add_times: list[float] = []
    if runner.incremental:
        add_times = [timed(partial(runner.add, i)) for i in range(adds)]
    return {
        "build_s": build,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p95_ms": percentile(latencies, 95) * 1e3,
        "add_ms": statistics.median(add_times) * 1e3 if add_times else None,
        "add_p95_ms": percentile(add_times, 95) * 1e3 if add_times else None,
        "rss_mib": rss / 2**20,
    }


def run_child(system: str, size: int, queries: int, adds: int) -> dict[str, float | None]:
    env = dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})
    command = [
        sys.executable,
        "-m",
        "bench.speed",
        "--child",
        system,
        "--sizes",
        str(size),
        "--queries",
        str(queries),
        "--adds",
        str(adds),
    ]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result: dict[str, float | None] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def cell(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(theirs: float | None, ours: float | None) -> str:
    return "n/a" if not theirs or not ours else f"{theirs / ours:.1f}x"


def report(size: int, results: dict[str, dict[str, float | None]]) -> None:
    print(f"\n{size:,} partners (one thread each; memory = RSS growth across the build)")
    print("| system | build s | query p50 ms | query p95 ms | add one ms (p50 / p95) | RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for system, r in results.items():
        add = f"{cell(r['add_ms'], 3)} / {cell(r['add_p95_ms'], 3)}"
        print(
            f"| {system} | {cell(r['build_s'], 2)} | {cell(r['p50_ms'], 3)} | "
            f"{cell(r['p95_ms'], 3)} | {add} | {cell(r['rss_mib'], 0)} |"
        )
    ours = results["ours"]
    for system in SYSTEMS[1:]:
        if system in results:
            other = results[system]
            print(
                f"{system} / ours: build {ratio(other['build_s'], ours['build_s'])}, "
                f"p50 {ratio(other['p50_ms'], ours['p50_ms'])}, "
                f"p95 {ratio(other['p95_ms'], ours['p95_ms'])}, "
                f"add {ratio(other['add_ms'], ours['add_ms'])}, "
                f"RSS {ratio(other['rss_mib'], ours['rss_mib'])}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--child", choices=SYSTEMS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(measure(args.child, sizes[0], args.queries, args.adds)))
        return 0
    print(
        f"seed {SEED}, vocabulary {VOCABULARY:,}, Zipf exponent {ZIPF_EXPONENT}, "
        f"{args.queries} queries (top 10), {args.adds} single adds; "
        f"every system pinned to 1 thread ({', '.join(THREAD_VARIABLES)}=1, threadpoolctl)"
    )
    for size in sizes:
        results = {
            system: run_child(system, size, args.queries, args.adds)
            for system in args.systems.split(",")
        }
        report(size, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
