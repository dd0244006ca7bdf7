"""Matching persistence: which facts were already published, and the outbox.

The index lives in memory and is rebuilt from the event log, so the only
state kept here is what makes publishing idempotent across replays.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, DuplicateKeyError

from pspx import mongo
from pspx.runtime import Runtime
from services.matching.index import Outgoing

CHUNK = 500  # facts staged per transaction


class MatchingStore:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.published = runtime.db["published"]

    async def publish(self, outgoing: Sequence[Outgoing], correlation_id: str) -> int:
        """Stage each fact's event once, ever, a chunk per transaction; returns how many
        were new. A fact is named by its dedupe key (a need's shortlist at a version, one
        need-partner alert), so a replay, a duplicate or another replica adds nothing."""
        unique = list({o.dedupe_key: o for o in outgoing}.values())
        staged = 0
        for start in range(0, len(unique), CHUNK):
            staged += await self._stage(unique[start : start + CHUNK], correlation_id)
        if staged:
            self.runtime.outbox.wake_relay()
        return staged

    async def _stage(self, chunk: list[Outgoing], correlation_id: str) -> int:
        keys = [o.dedupe_key for o in chunk]
        known = {d["_id"] async for d in self.published.find({"_id": {"$in": keys}}, {"_id": 1})}
        new = [o for o in chunk if o.dedupe_key not in known]
        if not new:
            return 0

        async def work(session: AsyncClientSession) -> None:
            await self.published.insert_many([{"_id": o.dedupe_key} for o in new], session=session)
            await self.runtime.outbox.stage(
                session, [(o.event, o.need_id, o.need_version) for o in new], correlation_id
            )

        try:
            await mongo.in_transaction(self.runtime.mongo, work)
        except (DuplicateKeyError, BulkWriteError):
            # Another replica published some of these meanwhile: one by one, keeping the rest.
            if len(new) == 1:
                return 0
            return sum([await self._stage([o], correlation_id) for o in new])
        return len(new)
