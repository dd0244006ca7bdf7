"""One active outbox relay per service, however many replicas run: a lease in the service's
database.

Two relays publishing the same outbox would send every change twice and could interleave one
aggregate's events, so every replica runs a relay but only the lease's holder publishes. The
holder renews the lease every third of its term; when the term runs out (the holder died or
froze) another replica takes it over with a fencing token one higher. Before it marks
changes sent, the holder checks that the lease is still its own under its token (``fence``),
so a relay that froze past its term and woke up stops there (``LeaseLost``) instead of
carrying on beside the new holder. Should it freeze between that check and the marking, it
marks sent changes whose events it has published: the new holder may send them again, and
consumers, idempotent, skip the copies; nothing is lost.

Replicas compare their own clocks with the term another wrote, so their clocks should agree to
well within a term (NTP does).
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

log = logging.getLogger(__name__)

LEASE_ID = "relay"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLost(Exception):
    """Another replica's relay holds the lease now."""


def replica_name(port: int) -> str:
    """Who holds the lease: the host and the service's port, which no two live processes
    share, and which a restarted process has again, so it takes back its own lease at once."""
    return f"{socket.gethostname()}:{port}"


class Lease:
    def __init__(
        self, leases: AsyncCollection[dict[str, Any]], holder: str, term: timedelta
    ) -> None:
        self.leases = leases
        self.holder = holder
        self.term = term
        self.token: int | None = None  # the fencing token while held
        self._renewed_at = NEVER

    async def hold(self) -> bool:
        """Whether this relay holds the lease, renewing or taking it as due."""
        now = datetime.now(UTC)
        if self.token is not None:
            if now - self._renewed_at < self.term / 3:
                return True
            renewed = await self.leases.update_one(
                {"_id": LEASE_ID, "holder": self.holder, "token": self.token},
                {"$set": {"expires_at": now + self.term}},
            )
            if renewed.matched_count:
                self._renewed_at = now
                return True
            log.warning("another replica's relay took over", extra={"fields": self._fields()})
            self.token = None
        return await self._take(now)

    async def _take(self, now: datetime) -> bool:
        try:
            taken = await self.leases.find_one_and_update(
                {
                    "_id": LEASE_ID,
                    "$or": [{"holder": self.holder}, {"expires_at": {"$lte": now}}],
                },
                {
                    "$set": {"holder": self.holder, "expires_at": now + self.term},
                    "$inc": {"token": 1},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # the lease exists and another holds it
            return False
        if taken is None:  # an upsert always answers with the document; kept for the types
            return False
        self.token, self._renewed_at = int(taken["token"]), now
        log.info("this replica's relay holds the outbox", extra={"fields": self._fields()})
        return True

    async def fence(self) -> None:
        """Refuse unless this relay still holds the lease under its token, within its term:
        checked just before changes are marked sent."""
        held = await self.leases.find_one(
            {
                "_id": LEASE_ID,
                "holder": self.holder,
                "token": self.token,
                "expires_at": {"$gt": datetime.now(UTC)},
            },
            {"_id": 1},
        )
        if held is None:
            self.token = None
            raise LeaseLost(self.holder)

    async def release(self) -> None:
        """Give the lease up at a clean stop, so another replica need not wait out the term."""
        if self.token is not None:
            await self.leases.update_one(
                {"_id": LEASE_ID, "holder": self.holder, "token": self.token},
                {"$set": {"expires_at": NEVER}},
            )
            self.token = None

    def _fields(self) -> dict[str, Any]:
        return {"holder": self.holder, "token": self.token, "collection": self.leases.full_name}
