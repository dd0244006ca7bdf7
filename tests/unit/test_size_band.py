"""An organisation's size band is read from its paid staff, at the UK's standard bounds."""

from __future__ import annotations

import pytest

from pspx.events.registry import SizeBand, size_band


@pytest.mark.parametrize(
    ("staff", "band"),
    [
        (0, SizeBand.MICRO),
        (9, SizeBand.MICRO),
        (10, SizeBand.SMALL),
        (49, SizeBand.SMALL),
        (50, SizeBand.MEDIUM),
        (249, SizeBand.MEDIUM),
        (250, SizeBand.LARGE),
        (1_000_000_000, SizeBand.LARGE),
    ],
)
def test_each_band_starts_and_ends_where_the_uk_bands_do(staff: int, band: SizeBand) -> None:
    assert size_band(staff) is band


def test_no_staff_figure_is_no_band() -> None:
    assert size_band(None) is None
