"""Each part of the embedded stack killed (SIGKILL) in turn under load: nothing acknowledged is
lost, nothing is applied twice, and every part answers again without anything else restarted.

The harness is ``bench/faults.py``, which also prints the figures (time to ready, time to
converge) for each part killed on a stack of its own; this test asserts only what must hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults import PARTS, scenario, table

pytestmark = pytest.mark.integration


async def test_every_part_killed_in_turn_under_load_loses_nothing(tmp_path: Path) -> None:
    report = await scenario(
        list(PARTS), registrations=1200, needs=20, concurrency=16, data=tmp_path / "var"
    )
    print("\n" + table([report]))
    assert report.acknowledged == 1200 and report.needs > 0
    assert report.lost == {
        "registry": 0,
        "log": 0,
        "matching": 0,
        "replica": 0,
        "shortlists": 0,
    }
    assert report.applied_twice == {"registry": 0, "shortlists": 0, "alerts": 0}
    assert set(report.ready_s) == set(PARTS)  # each came back, started by the supervisor
    assert report.converged_s is not None
