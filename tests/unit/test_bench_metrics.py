import math

import pytest

from bench.metrics import dcg_at_k, evaluate, mrr_at_k, ndcg_at_k, recall_at_k

QRELS = {"a": 2, "b": 1, "c": 1}


def test_dcg_uses_linear_gain_and_log2_discount() -> None:
    assert dcg_at_k([2, 0, 1], 10) == pytest.approx(2 + 1 / 2)
    assert dcg_at_k([2, 0, 1], 1) == 2


def test_ndcg_is_one_for_the_ideal_order_and_zero_without_hits() -> None:
    assert ndcg_at_k(["a", "b", "c"], QRELS, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], QRELS, 10) == 0.0
    assert ndcg_at_k(["a"], {}, 10) == 0.0


def test_ndcg_by_hand() -> None:
    ideal = 2 + 1 / math.log2(3) + 1 / 2
    assert ndcg_at_k(["x", "a"], QRELS, 10) == pytest.approx((2 / math.log2(3)) / ideal)


def test_mrr_takes_the_first_relevant_within_k() -> None:
    assert mrr_at_k(["x", "b", "a"], QRELS, 10) == pytest.approx(1 / 2)
    assert mrr_at_k(["x", "b", "a"], QRELS, 10, min_grade=2) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], QRELS, 2) == 0.0


def test_recall_counts_relevant_documents_in_the_top_k() -> None:
    assert recall_at_k(["a", "x", "c"], QRELS, 50) == pytest.approx(2 / 3)
    assert recall_at_k(["b", "c"], QRELS, 50, min_grade=2) == 0.0
    assert recall_at_k(["a", "b"], QRELS, 1) == pytest.approx(1 / 3)


def test_evaluate_averages_over_judged_queries_and_scores_missing_as_zero() -> None:
    result = evaluate({"q1": ["a", "b", "c"]}, {"q1": QRELS, "q2": {"z": 2}})
    assert result == pytest.approx({"nDCG@10": 0.5, "MRR@10": 0.5, "R@50": 0.5, "KI-R@50": 0.5})
