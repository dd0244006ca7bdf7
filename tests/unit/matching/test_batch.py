import json
from pathlib import Path
from typing import Any

import pytest

from services.matching.batch import main, rank_files

PARTNERS = [
    {
        "id": "p-food",
        "name": "Food Bank",
        "kind": "charity",
        "description": "Food parcels for families.",
        "regions": ["Wales"],
        "service_areas": [],
    },
    {
        "id": "p-debt",
        "name": "Money Advice",
        "kind": "charity",
        "description": "Debt advice and budgeting.",
        "regions": ["Wales"],
        "service_areas": ["Financial inclusion"],
    },
    {
        "id": "p-care",
        "name": "Carers Trust",
        "kind": "charity",
        "description": "Respite for young carers and their families.",
        "regions": ["Scotland"],
        "service_areas": ["Carers"],
    },
]
NEEDS = [
    {
        "id": "n2",
        "title": "Debt",
        "description": "budgeting advice",
        "region": "Cardiff",
        "service_area": None,
    },
    {
        "id": "n1",
        "title": "",
        "description": "food for families",
        "region": None,
        "service_area": None,
    },
    {
        "id": "n3",
        "title": "",
        "description": "zzz unknown words",
        "region": None,
        "service_area": None,
    },
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    partners, needs = tmp_path / "partners.jsonl", tmp_path / "needs.jsonl"
    partners.write_text("".join(json.dumps(p) + "\n" for p in PARTNERS), encoding="utf-8")
    needs.write_text("".join(json.dumps(n) + "\n" for n in NEEDS), encoding="utf-8")
    return partners, needs, tmp_path / "out.jsonl"


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_one_line_per_need_in_file_order_best_first(files: tuple[Path, Path, Path]) -> None:
    partners, needs, out = files
    assert rank_files(partners, needs, 100, out) == 3
    records = read(out)
    assert [r["need_id"] for r in records] == ["n2", "n1", "n3"]
    assert set(records[0]) == {"need_id", "ranking"}
    first = records[0]["ranking"]
    assert first[0]["partner_id"] == "p-debt"
    assert set(first[0]) == {"partner_id", "score"}
    scores = [entry["score"] for entry in first]
    assert scores == sorted(scores, reverse=True)
    assert read(out)[1]["ranking"][0]["partner_id"] == "p-food"
    assert records[2]["ranking"] == []


def test_top_limits_the_ranking_length(files: tuple[Path, Path, Path]) -> None:
    partners, needs, out = files
    rank_files(partners, needs, 1, out)
    assert [len(r["ranking"]) for r in read(out)] == [1, 1, 0]


def test_the_region_of_a_need_is_not_a_filter(files: tuple[Path, Path, Path]) -> None:
    partners, needs, out = files
    rank_files(partners, needs, 100, out)
    assert read(out)[0]["ranking"]  # "Cardiff" matches no partner region


def test_command_line(files: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    partners, needs, out = files
    argv = ["--partners", str(partners), "--needs", str(needs), "--top", "2", "--out", str(out)]
    assert main(argv) == 0
    assert "3 needs" in capsys.readouterr().out
    assert len(read(out)) == 3
    with pytest.raises(SystemExit):
        main([*argv[:4], "--top", "0", "--out", str(out)])
