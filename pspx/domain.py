"""What every service's domain model shares: the aggregate base and the clock. No I/O.

Domain modules import this, ``pspx.errors`` and the event contracts, and
nothing of MongoDB, FastAPI or FastStream.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel

from pspx.errors import StaleVersion

# Commands take the time as an argument; services hold a clock and pass its reading,
# so that rules about time can be tested with a clock of the test's choosing.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Aggregate(BaseModel):
    """A consistency boundary with an optimistic version, raised by one per change."""

    id: str
    version: int = 0

    def expect(self, version: int) -> None:
        """Refuse a change made against a version other than the stored one."""
        if version != self.version:
            raise StaleVersion(
                f"{self.id} is at version {self.version}; the change was made against version "
                f"{version}: reload and try again"
            )

    def _bump(self) -> int:
        self.version += 1
        return self.version
