"""A partnership page's charts and forms: the bars are drawn to scale from the same numbers
as the tables, the SVG is well formed with a title, and what people type (money, counts,
measures, route answers) is read as they mean it or named as a problem at its field."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from gateway.web.pages import charts
from gateway.web.pages import partnerships as p
from gateway.web.pages.render import ENV

SVG = "{http://www.w3.org/2000/svg}"


def parties(*rows: tuple[str, int, int]) -> list[dict[str, Any]]:
    return [
        {"partyId": f"org-{i}", "side": side, "moneyGbp": money, "inKindGbp": in_kind}
        for i, (side, money, in_kind) in enumerate(rows)
    ]


def drawn(macro: str, *args: Any) -> ET.Element:
    """A chart macro's SVG, rendered in English and parsed."""
    charts = ENV.get_template("charts.html").make_module({"_": lambda text: text})
    return ET.fromstring(str(getattr(charts, macro)(*args)))


@pytest.mark.parametrize(
    ("typed", "pounds"),
    [("£50,000", 50_000), ("50000", 50_000), (" £ 1,234,567 ", 1_234_567), ("0", 0)],
)
def test_money_is_read_as_people_write_it(typed: str, pounds: int) -> None:
    assert p.pounds(typed) == pounds


@pytest.mark.parametrize(
    "typed", ["", "£", "fifty", "50,00", "5 000", "50000.00", "-5", "£50k", "²", "٥٠"]
)
def test_anything_else_is_not_money(typed: str) -> None:
    assert p.pounds(typed) is None


def test_a_contribution_names_each_field_it_gets_wrong() -> None:
    line, errors = p.contribution(
        {"contribution_form": "gift", "contribution_description": " ", "contribution_value": "lots"}
    )
    assert errors == {
        "contribution_form": "Choose money or in kind",
        "contribution_description": "Say what the contribution is",
        "contribution_value": p.WHOLE_POUNDS,
    }
    _, errors = p.contribution(
        {"contribution_form": "money", "contribution_value": "£3,000,000,000"}
    )
    assert errors["contribution_value"] == p.TOO_MANY_POUNDS  # past GraphQL's 32-bit Int
    line, errors = p.contribution(
        {
            "contribution_form": "in_kind",
            "contribution_description": "Rooms",
            "contribution_value": "£2,000",
        }
    )
    assert errors == {}
    assert line == {"form": "in_kind", "description": "Rooms", "valueGbp": 2000}


def test_outcomes_read_counts_money_and_measures() -> None:
    found, errors = p.outcomes(
        {
            "people_served": "1,200",
            "cost_savings": "£8,000",
            "quality_measures": "Satisfaction: 4.5\n\nTime: minutes: 30\n",
        }
    )
    assert errors == {}
    assert found == {
        "peopleServed": 1200,
        "costSavingsGbp": 8000,
        "qualityMeasures": [
            {"name": "Satisfaction", "value": 4.5},
            {"name": "Time: minutes", "value": 30.0},
        ],
    }
    _, errors = p.outcomes({"people_served": "", "cost_savings": "", "quality_measures": ""})
    assert errors == {"people_served": "Enter at least one measure"}
    _, errors = p.outcomes(
        {"people_served": "many", "cost_savings": "8k", "quality_measures": "Satisfaction"}
    )
    assert errors == {
        "people_served": p.PEOPLE_COUNT,
        "cost_savings": p.SAVINGS_POUNDS,
        "quality_measures": p.MEASURE_LINE,
    }
    _, errors = p.outcomes({"people_served": "1000000001", "quality_measures": "A: 1\nA: 2"})
    assert set(errors) == {"people_served", "quality_measures"}
    for unclear in ("Score: nan", "Score: 4,5", "Score: 1e3", "Score: ٤", "Score: " + "9" * 400):
        assert p.measures(unclear) is None
    assert p.measures("Change: -2.5\nShare: .5") == [
        {"name": "Change", "value": -2.5},
        {"name": "Share", "value": 0.5},
    ]


def test_a_route_question_left_unknown_is_left_out() -> None:
    answers, errors = p.route_answers(
        {"no_market": "no", "capable_providers": "yes", "route_notes": " Seen by legal "}
    )
    assert errors == {}
    assert answers["noMarket"] is False
    assert answers["capableProviders"] is True
    assert answers["committedCommissioner"] is None
    assert answers["notes"] == "Seen by legal"
    assert len(answers) == len(p.QUESTIONS) + 1
    _, errors = p.route_answers({"no_market": "maybe"})
    assert errors == {"no_market": "Choose yes, no or not known"}


def test_each_typed_problem_comes_back_at_its_field() -> None:
    invalid = {
        "__typename": "InvalidInput",
        "message": "the request is not valid: see fields",
        "fields": [
            {"field": "contribution.valueGbp", "problem": "at most 10^12"},
            {"field": "contribution.description", "problem": "at most 500 characters"},
        ],
    }
    assert p.problems(invalid, p.CONTRIBUTION_FORM) == {
        "contribution_description": "at most 500 characters",
        "contribution_value": "at most 10^12",
    }
    measure = {
        "__typename": "InvalidInput",
        "message": "not valid",
        "fields": [{"field": "outcomes.qualityMeasures.Satisfaction", "problem": "too big"}],
    }
    assert p.problems(measure, p.OUTCOMES_FORM) == {"quality_measures": "too big"}
    notes = {
        "__typename": "InvalidInput",
        "message": "m",
        "fields": [{"field": "routeAnswers.notes", "problem": "long"}],
    }
    assert p.problems(notes, p.ROUTE_FORM) == {"route_notes": "long"}
    refused = {"__typename": "Refused", "message": "only past proposal", "field": "outcomes"}
    assert p.problems(refused, p.OUTCOMES_FORM) == {"people_served": "only past proposal"}
    ended = {"__typename": "Refused", "message": "it has ended", "field": None}
    assert p.problems(ended, p.CONTRIBUTION_FORM) == {"contribution_form": "it has ended"}
    stale = {"__typename": "StaleVersion", "message": "psp-1 is at version 4"}
    assert p.problems(stale, p.ROUTE_FORM) == {"initiated_by_organisation": p.STALE}
    not_allowed = {"__typename": "NotAllowed", "message": "not a party"}
    assert p.problems(not_allowed, p.MOVE_FORM) == {"note": "not a party"}


def test_the_ledger_chart_has_a_bar_per_side_to_scale() -> None:
    sides = charts.side_totals(
        parties(("public", 50_000, 0), ("third_sector", 0, 8_000), ("third_sector", 2_000, 2_000))
    )
    assert [(s.side, s.money, s.in_kind, s.total) for s in sides] == [
        ("public", 50_000, 0, 50_000),
        ("third_sector", 2_000, 10_000, 12_000),
    ]
    chart = charts.ledger_chart(sides)
    public, third_sector = chart.bars
    assert (
        public.end == charts.LEDGER_WIDTH - charts.TOTAL_ROOM
    )  # the largest fills the room for bars
    assert third_sector.end == pytest.approx(public.end * 12 / 50, abs=0.1)
    money, in_kind = third_sector.segments
    scale = public.end / 50_000
    assert money.width == pytest.approx(2_000 * scale, abs=0.05)
    assert in_kind.x == money.width
    assert in_kind.width == pytest.approx(10_000 * scale, abs=0.05)
    assert public.bar_y < third_sector.bar_y < chart.height


def test_an_empty_ledger_draws_empty_bars() -> None:
    chart = charts.ledger_chart(charts.side_totals([]))
    assert [b.end for b in chart.bars] == [0.0, 0.0]


def test_the_ledger_svg_is_an_image_with_a_title_and_a_bar_per_side() -> None:
    sides = charts.side_totals(parties(("public", 50_000, 0), ("third_sector", 0, 12_000)))
    svg = drawn("ledger_svg", charts.ledger_chart(sides), "ledger")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "ledger-title"
    assert svg.findtext(f"{SVG}title") == "What each side puts in"
    bars = svg.findall(f"{SVG}g[@class='pspx-chart__bar']")
    assert [b.get("data-side") for b in bars] == ["public", "third_sector"]
    assert [b.findall(f"{SVG}text")[-1].text for b in bars] == ["£50,000", "£12,000"]


def test_outcomes_over_time_are_bars_to_scale_with_their_dates() -> None:
    chart = charts.time_chart(
        [("2025-03-01T09:00:00+00:00", 100), ("2025-04-01T09:00:00+00:00", 150)]
    )
    first, second = chart.columns
    assert [c.label for c in chart.columns] == ["2025-03-01", "2025-04-01"]
    assert second.height == charts.PLOT_HEIGHT
    assert first.height == pytest.approx(charts.PLOT_HEIGHT * 2 / 3, abs=0.1)
    assert first.y + first.height == second.y + second.height == chart.baseline
    assert first.x + first.width < second.x
    assert not chart.tilted and chart.left_out == 0


def test_measurements_on_one_day_are_told_apart_by_time() -> None:
    chart = charts.time_chart([("2025-03-01T09:00:00+00:00", 1), ("2025-03-01T15:30:00+00:00", 2)])
    assert [c.label for c in chart.columns] == ["2025-03-01 09:00", "2025-03-01 15:30"]


def test_only_the_latest_measurements_are_drawn() -> None:
    points = [(f"2025-01-{day:02d}T09:00:00+00:00", day) for day in range(1, 21)]
    chart = charts.time_chart(points)
    assert len(chart.columns) == charts.TIME_POINTS
    assert chart.left_out == 20 - charts.TIME_POINTS
    assert chart.columns[-1].label == "2025-01-20" and chart.tilted
    assert all(c.x + c.width <= chart.width for c in chart.columns)


def test_a_metric_never_measured_has_no_chart() -> None:
    history: list[dict[str, Any]] = [
        {"recordedAt": "2025-03-01T09:00:00+00:00", "peopleServed": 10, "costSavingsGbp": None},
        {"recordedAt": "2025-04-01T09:00:00+00:00", "peopleServed": None, "costSavingsGbp": None},
    ]
    drawn_charts = charts.outcome_charts(history)
    assert list(drawn_charts) == ["peopleServed"]
    assert [c.value for c in drawn_charts["peopleServed"].columns] == [10]


def test_the_time_svg_has_a_column_and_a_label_per_measurement() -> None:
    chart = charts.time_chart(
        [("2025-03-01T09:00:00+00:00", 8000), ("2025-04-01T09:00:00+00:00", 0)]
    )
    svg = drawn("time_svg", chart, "savings", "Cost savings over time", True)
    assert svg.findtext(f"{SVG}title") == "Cost savings over time"
    points = svg.findall(f"{SVG}g[@class='pspx-chart__point']")
    assert [[t.text for t in g.findall(f"{SVG}text")] for g in points] == [
        ["£8,000", "2025-03-01"],
        ["£0", "2025-04-01"],
    ]


def test_the_outcome_table_has_a_column_for_every_measure_ever_named() -> None:
    history: list[dict[str, Any]] = [
        {
            "recordedAt": "2025-03-01T09:00:00+00:00",
            "peopleServed": 10,
            "costSavingsGbp": None,
            "qualityMeasures": [{"name": "Satisfaction", "value": 4.0}],
        },
        {
            "recordedAt": "2025-04-01T09:00:00+00:00",
            "peopleServed": 12,
            "costSavingsGbp": 500,
            "qualityMeasures": [{"name": "Waiting weeks", "value": 2.5}],
        },
    ]
    names, rows = charts.outcome_table(history)
    assert names == ["Satisfaction", "Waiting weeks"]
    assert [r.measures for r in rows] == [("4", None), (None, "2.5")]
