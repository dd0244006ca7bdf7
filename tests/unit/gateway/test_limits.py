"""Limits on what one operation may ask for, and on what the metrics record of it."""

from __future__ import annotations

import asyncio

import pytest

from gateway.schema import limits, schema


def test_operation_names_past_the_limit_are_counted_as_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "_named", set())
    monkeypatch.setattr(limits, "MAX_OPERATION_NAMES", 3)
    assert [limits.operation_label(f"Op{n}") for n in range(5)] == [
        "Op0",
        "Op1",
        "Op2",
        "other",
        "other",
    ]
    assert limits.operation_label("Op1") == "Op1"  # a name already seen keeps its own series
    assert limits.operation_label(None) == "anonymous"


NESTED = """query Nested($n: Int!) { searchPartners(search: {text: "care"}, first: $n) {
    partner { similar(first: $n) { partnerId } } } }"""


def cost_errors(query: str, variables: dict[str, object] | None = None) -> list[str]:
    # Validation runs before any resolver, so the services are never reached: no context needed.
    result = asyncio.run(schema.execute(query, variable_values=variables))
    return [e.message for e in result.errors or [] if "would cost" in e.message]


def test_the_cost_counts_first_as_the_variables_say() -> None:
    assert cost_errors(NESTED, {"n": 100})  # 100 partners x 100 similar each
    assert cost_errors(NESTED, {"n": 3}) == []


def test_the_same_document_is_priced_afresh_for_each_request() -> None:
    # The document's checks are cached; the cost, which depends on the variables, is not.
    assert cost_errors(NESTED, {"n": 3}) == []
    assert cost_errors(NESTED, {"n": 100})
    assert cost_errors(NESTED, {"n": 3}) == []


def test_a_first_left_to_the_operations_default_is_priced_as_a_full_page() -> None:
    query = NESTED.replace("$n: Int!", "$n: Int = 100")
    assert cost_errors(query)
