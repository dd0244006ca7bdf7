"""Event subscribers: the registry's organisation events feed the exchange's replica.

The exchange never reads the registry's database. Organisation events carry
the whole current state, so keeping the newest version of each is enough;
``apply_if_newer`` makes a duplicate, a replay or an older event a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from pspx.events import Envelope
from pspx.events.registry import OrganisationRegistered, OrganisationRemoved, OrganisationUpdated
from pspx.runtime import Runtime
from services.exchange.store import ExchangeStore

log = logging.getLogger(__name__)


class OrganisationReplica:
    def __init__(self, store: ExchangeStore) -> None:
        self.store = store

    async def on_profile(
        self, envelope: Envelope, event: OrganisationRegistered | OrganisationUpdated
    ) -> None:
        fields = {"name": event.profile.name, "kind": event.profile.kind.value, "removed": False}
        await self._apply(envelope, event.id, fields)

    async def on_removed(self, envelope: Envelope, event: OrganisationRemoved) -> None:
        # The name stays, so that the organisation's practices stay attributed.
        await self._apply(envelope, event.id, {"name": event.name, "removed": True})

    async def _apply(self, envelope: Envelope, org_id: str, fields: dict[str, Any]) -> None:
        applied = await self.store.apply_organisation(org_id, envelope.aggregate_version, fields)
        if not applied:
            log.debug(
                "organisation event already applied",
                extra={"fields": {"org_id": org_id, "version": envelope.aggregate_version}},
            )


def subscribe(runtime: Runtime, store: ExchangeStore) -> None:
    """Register the subscribers; call before the broker starts."""
    replica = OrganisationReplica(store)
    runtime.subscribe(
        "organisations",
        {
            OrganisationRegistered: replica.on_profile,
            OrganisationUpdated: replica.on_profile,
            OrganisationRemoved: replica.on_removed,
        },
    )
