"""Operation names in the metrics are the client's choice, so their number is bounded."""

from __future__ import annotations

import pytest

from gateway.schema import limits


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
