"""The partnership page's charts, laid out in Python and drawn as inline SVG by
``templates/charts.html``: the two-sided ledger as a bar a side, and outcomes over time as
columns. No script and no library; the same numbers are in a table beside each chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.web.pages.render import N_

SIDES = {"public": N_("Public sector"), "third_sector": N_("Third sector")}


def number(value: float) -> str:
    """A measure as typed: 3 rather than 3.0."""
    return str(int(value)) if value.is_integer() else str(value)


@dataclass(frozen=True)
class SideTotal:
    """What one side of the ledger puts in, summed over its parties."""

    side: str
    label: str
    money: int
    in_kind: int

    @property
    def total(self) -> int:
        return self.money + self.in_kind


def side_totals(parties: Sequence[dict[str, Any]]) -> list[SideTotal]:
    """Each side's money and in-kind totals, the public side first."""
    return [
        SideTotal(
            side=side,
            label=label,
            money=sum(p["moneyGbp"] for p in parties if p["side"] == side),
            in_kind=sum(p["inKindGbp"] for p in parties if p["side"] == side),
        )
        for side, label in SIDES.items()
    ]


@dataclass(frozen=True)
class Segment:
    """Part of a bar: ``kind`` names the class that fills it (money or in-kind)."""

    kind: str
    x: float
    width: float


@dataclass(frozen=True)
class SideBar:
    """A side's row of the ledger chart: its name, and its bar of money then in kind."""

    totals: SideTotal
    label_y: float
    bar_y: float
    segments: tuple[Segment, ...]

    @property
    def end(self) -> float:
        return self.segments[-1].x + self.segments[-1].width


@dataclass(frozen=True)
class LedgerChart:
    """The ledger as bars, a side each, in the SVG's own units."""

    width: int
    height: int
    bar_height: int
    bars: tuple[SideBar, ...]


# The ledger chart's layout, in the SVG's own units: a legend, then a row a side with its
# name above a bar of money then in kind, and room after the longest bar for its total.
LEDGER_WIDTH = 320
LEGEND_HEIGHT = 28
SIDE_ROW = 56
BAR_HEIGHT = 24
TOTAL_ROOM = 110


def ledger_chart(sides: Sequence[SideTotal]) -> LedgerChart:
    """Bars to one scale, so that the side putting in most fills the width."""
    largest = max((s.total for s in sides), default=0)
    scale = (LEDGER_WIDTH - TOTAL_ROOM) / largest if largest else 0.0
    bars = []
    for row, side in enumerate(sides):
        top = LEGEND_HEIGHT + row * SIDE_ROW
        money = round(side.money * scale, 1)
        in_kind = round(side.in_kind * scale, 1)
        segments = (Segment("money", 0.0, money), Segment("in-kind", money, in_kind))
        bars.append(SideBar(side, label_y=top + 16, bar_y=top + 22, segments=segments))
    height = LEGEND_HEIGHT + len(sides) * SIDE_ROW
    return LedgerChart(LEDGER_WIDTH, height, BAR_HEIGHT, tuple(bars))


@dataclass(frozen=True)
class Column:
    """One measurement's bar: its date label and value, and where it is drawn."""

    label: str
    value: int
    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> float:
        return round(self.x + self.width / 2, 1)


@dataclass(frozen=True)
class TimeChart:
    """One metric over time as bars, oldest first, in the SVG's own units."""

    width: int
    height: int
    baseline: float
    tilted: bool  # the date labels are turned so that many fit side by side
    columns: tuple[Column, ...]
    left_out: int  # the earlier measurements only the table shows


# The chart over time: up to TIME_POINTS bars, a value above each and its date below.
TIME_WIDTH = 320
TIME_POINTS = 12
VALUE_ROOM = 24
PLOT_HEIGHT = 150
LEVEL_LABELS = 28
TILTED_LABELS = 116
COLUMN_WIDTH = 48


def when(times: Sequence[str]) -> list[str]:
    """Short labels for ISO times: the day, or the day and time where days repeat."""
    days = [t[:10] for t in times]
    return days if len(set(days)) == len(days) else [t[:16].replace("T", " ") for t in times]


def time_chart(points: Sequence[tuple[str, int]]) -> TimeChart:
    """Bars for (ISO time, value) points, oldest first; the latest TIME_POINTS are drawn."""
    shown = list(points)[-TIME_POINTS:]
    labels = when([at for at, _ in shown])
    tilted = len(shown) > 4
    slot = TIME_WIDTH / max(len(shown), 1)
    width = round(min(COLUMN_WIDTH, slot * 0.6), 1)
    largest = max((value for _, value in shown), default=0)
    baseline = float(VALUE_ROOM + PLOT_HEIGHT)
    columns = []
    for i, ((_, value), label) in enumerate(zip(shown, labels, strict=True)):
        height = round(value / largest * PLOT_HEIGHT, 1) if largest else 0.0
        x = round(i * slot + (slot - width) / 2, 1)
        columns.append(Column(label, value, x, round(baseline - height, 1), width, height))
    height = int(baseline) + (TILTED_LABELS if tilted else LEVEL_LABELS)
    left_out = len(points) - len(shown)
    return TimeChart(TIME_WIDTH, height, baseline, tilted, tuple(columns), left_out)


@dataclass(frozen=True)
class OutcomeRow:
    """One recording of the outcome metrics, a cell for every quality measure ever named."""

    recorded_at: str
    people_served: int | None
    cost_savings: int | None
    measures: tuple[str | None, ...]


def outcome_table(history: Sequence[dict[str, Any]]) -> tuple[list[str], list[OutcomeRow]]:
    """The quality measures' names, in the order first recorded, and a row a recording."""
    names = list(dict.fromkeys(m["name"] for h in history for m in h["qualityMeasures"]))
    rows = []
    for h in history:
        measured = {m["name"]: number(m["value"]) for m in h["qualityMeasures"]}
        cells = tuple(measured.get(name) for name in names)
        rows.append(OutcomeRow(h["recordedAt"], h["peopleServed"], h["costSavingsGbp"], cells))
    return names, rows


def outcome_charts(history: Sequence[dict[str, Any]]) -> dict[str, TimeChart]:
    """A chart for each metric measured at least once: people served and cost savings."""
    charts: dict[str, TimeChart] = {}
    for metric in ("peopleServed", "costSavingsGbp"):
        points = [(h["recordedAt"], h[metric]) for h in history if h[metric] is not None]
        if points:
            charts[metric] = time_chart(points)
    return charts


# -- the pages --------------------------------------------------------------------------------
