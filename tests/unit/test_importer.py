"""Reading organisations from JSONL: each bad line is reported with its field."""

from __future__ import annotations

import json
from pathlib import Path

from stack.importer import RegisterOrganisation, read


def test_valid_lines_become_registrations_and_bad_ones_say_why(tmp_path: Path) -> None:
    lines = [
        {
            "id": "GB-CHC-1000003",
            "name": "Southern Africa Resources Centre",
            "kind": "charity",
            "description": "Education",
            "regions": ["England and Wales"],
            "service_areas": ["Adults"],
        },
        {"id": "not-an-id!", "name": "X", "kind": "charity"},
        {"id": "GB-SC-SC000001", "name": "", "kind": "church"},
    ]
    path = tmp_path / "orgs.jsonl"
    path.write_text(
        "\n".join(json.dumps(line) for line in lines) + "\n{not json\n\n", encoding="utf-8"
    )
    rows = list(read(path))
    assert [n for n, _ in rows] == [1, 2, 3, 4]
    first = rows[0][1]
    assert isinstance(first, RegisterOrganisation)
    assert first.profile.service_areas == ["Adults"]
    second = rows[1][1]
    assert isinstance(second, str) and second.startswith("line 2: id: String should match pattern")
    third = rows[2][1]
    assert isinstance(third, str)
    assert "profile.name" in third and "profile.kind" in third
    assert rows[3][1] == "line 4: not JSON (Expecting property name enclosed in double quotes)"


def test_the_demo_data_is_all_valid() -> None:
    data = Path(__file__).resolve().parents[2] / "stack" / "demo" / "data"
    files = ["commissioners.jsonl", "uk_charities.jsonl", "partners_multilingual.jsonl"]
    problems = [row for name in files for _, row in read(data / name) if isinstance(row, str)]
    assert problems == []
