"""Event subscribers: the registry's organisation events feed the exchange's replica.

The exchange never reads the registry's database. Organisation events carry
the whole current state, so keeping the newest version of each is enough;
``apply_if_newer`` makes a duplicate, a replay or an older event a no-op.
"""

from __future__ import annotations

import logging

from pspx import kafka, topics
from pspx.events import Envelope
from pspx.events.registry import OrganisationRegistered, OrganisationRemoved, OrganisationUpdated
from pspx.runtime import Runtime
from services.exchange.store import ExchangeStore

log = logging.getLogger(__name__)

GROUP = "exchange"


class OrganisationReplica:
    def __init__(self, store: ExchangeStore) -> None:
        self.store = store

    async def handle(self, envelope: Envelope) -> None:
        event = envelope.event()
        if isinstance(event, OrganisationRegistered | OrganisationUpdated):
            fields = {
                "name": event.profile.name,
                "kind": event.profile.kind.value,
                "removed": False,
            }
        elif isinstance(event, OrganisationRemoved):
            # The name stays, so that the organisation's practices stay attributed.
            fields = {"name": event.name, "removed": True}
        else:
            return
        applied = await self.store.apply_organisation(event.id, envelope.aggregate_version, fields)
        if not applied:
            log.debug(
                "organisation event already applied",
                extra={"fields": {"org_id": event.id, "version": envelope.aggregate_version}},
            )


def subscribe(runtime: Runtime, store: ExchangeStore) -> None:
    """Register the subscribers; call before the broker starts."""
    replica = OrganisationReplica(store)
    kafka.subscribe(
        runtime.kafka,
        topics.ORGANISATIONS,
        group=GROUP,
        handle=replica.handle,
        settings=runtime.settings,
    )
