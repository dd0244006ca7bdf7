"""Ranking metrics over graded relevance judgements (pure functions).

``qrels`` maps a document id to its grade (absent = 0). A document counts as
relevant when its grade is at least ``min_grade`` (1 unless said otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg_at_k(gains: Sequence[float], k: int) -> float:
    """Discounted cumulative gain with linear gains and a log2(rank + 1) discount."""
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains[:k]))


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    ideal = dcg_at_k(sorted(qrels.values(), reverse=True), k)
    if ideal == 0:
        return 0.0
    return dcg_at_k([qrels.get(doc, 0) for doc in ranking], k) / ideal


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, int], k: int, min_grade: int = 1) -> float:
    for rank, doc in enumerate(ranking[:k]):
        if qrels.get(doc, 0) >= min_grade:
            return 1.0 / (rank + 1)
    return 0.0


def recall_at_k(
    ranking: Sequence[str], qrels: Mapping[str, int], k: int, min_grade: int = 1
) -> float:
    relevant = {doc for doc, grade in qrels.items() if grade >= min_grade}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def evaluate(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Mean nDCG@10, MRR@10, R@50 (grade >= 1) and KI-R@50 (grade 2) over the
    queries in ``qrels``; a query with no ranking scores 0."""
    totals = {"nDCG@10": 0.0, "MRR@10": 0.0, "R@50": 0.0, "KI-R@50": 0.0}
    for query, judged in qrels.items():
        ranking = rankings.get(query, ())
        totals["nDCG@10"] += ndcg_at_k(ranking, judged, 10)
        totals["MRR@10"] += mrr_at_k(ranking, judged, 10)
        totals["R@50"] += recall_at_k(ranking, judged, 50)
        totals["KI-R@50"] += recall_at_k(ranking, judged, 50, min_grade=2)
    count = max(len(qrels), 1)
    return {name: total / count for name, total in totals.items()}
