"""Matching persistence: which facts were already published, and the outbox.

The index lives in memory and is rebuilt from the event log, so the only
state kept here is what makes publishing idempotent across replays.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from pspx import mongo
from pspx.runtime import Runtime
from services.matching.index import Outgoing


class MatchingStore:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.published = runtime.db["published"]

    async def publish(self, outgoing: Sequence[Outgoing], correlation_id: str) -> int:
        """Stage each fact's event once, ever; returns how many were new."""
        staged = 0
        for out in outgoing:

            async def work(session: AsyncClientSession, out: Outgoing = out) -> None:
                await self.published.insert_one({"_id": out.dedupe_key}, session=session)
                await self.runtime.outbox.add(
                    session,
                    [out.event],
                    aggregate_id=out.need_id,
                    aggregate_version=out.need_version,
                    correlation_id=correlation_id,
                )

            try:
                await mongo.in_transaction(self.runtime.mongo, work)
                staged += 1
            except DuplicateKeyError:
                continue  # published before: a replay or a duplicate
        if staged:
            self.runtime.outbox.wake_relay()
        return staged
