"""Event subscribers: the registry's organisation events feed the exchange's replica.

The exchange never reads the registry's database. Organisation events carry
the whole current state, so keeping the newest version of each is enough; a
batch is written at once under a version guard (``pspx.mongo.apply_newer``),
so a duplicate, a replay or an older event changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from pspx.consumers import Batch
from pspx.events import Event
from pspx.events.registry import OrganisationRegistered, OrganisationRemoved, OrganisationUpdated
from pspx.runtime import Runtime
from services.exchange.store import ExchangeStore

log = logging.getLogger(__name__)


class OrganisationReplica:
    def __init__(self, store: ExchangeStore) -> None:
        self.store = store

    async def on_batch(self, events: Batch) -> None:
        changes = [
            (envelope.aggregate_id, envelope.aggregate_version, fields(event))
            for envelope, event in events
        ]
        applied = await self.store.apply_organisations(changes)
        log.debug(
            "organisation events applied",
            extra={"fields": {"events": len(events), "applied": applied}},
        )


def fields(event: Event) -> dict[str, Any]:
    """What the replica keeps of an organisation event."""
    if isinstance(event, OrganisationRemoved):
        # The name stays, so that the organisation's practices stay attributed.
        return {"name": event.name, "removed": True}
    assert isinstance(event, OrganisationRegistered | OrganisationUpdated)
    return {"name": event.profile.name, "kind": event.profile.kind.value, "removed": False}


def subscribe(runtime: Runtime, store: ExchangeStore) -> None:
    """Register the subscribers; call before the broker starts."""
    replica = OrganisationReplica(store)
    runtime.consume(
        "organisations",
        (OrganisationRegistered, OrganisationUpdated, OrganisationRemoved),
        replica.on_batch,
    )
