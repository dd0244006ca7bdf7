"""Registry use cases: load, apply a domain command, store the change with its events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pspx.domain import Clock, utc_now
from pspx.errors import DomainError, NotFound
from pspx.events.registry import NeedDetails, NeedStatus, OrganisationProfile, Stage
from pspx.store import Change
from services.registry.domain import Need, Organisation, OutcomeMetrics, Partnership
from services.registry.route import RouteAnswers
from services.registry.store import RegistryStore


@dataclass(frozen=True)
class ImportResult:
    registered: int
    updated: int
    unchanged: int


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Registry:
    def __init__(self, store: RegistryStore, *, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    # organisations

    async def register(
        self, org_id: str, profile: OrganisationProfile, correlation_id: str
    ) -> Organisation:
        existing = await self.store.get(Organisation, org_id)
        if existing is not None:
            events = existing.reregister(profile, self.clock())
            await self.store.save(existing, events, correlation_id)
            return existing
        org, events = Organisation.register(org_id, profile, self.clock())
        await self.store.save(org, events, correlation_id, new=True)
        return org

    async def import_organisations(
        self, rows: Sequence[tuple[str, OrganisationProfile]], correlation_id: str
    ) -> ImportResult:
        """Register or update a batch in one transaction; rows already current change nothing."""
        ids = [org_id for org_id, _ in rows]
        if len(set(ids)) != len(ids):
            raise DomainError("the batch names an organisation twice", field="id")
        known = await self.store.get_many(Organisation, ids)
        at = self.clock()
        changes: list[Change] = []
        registered = updated = 0
        for org_id, profile in rows:
            org = known.get(org_id)
            if org is None:
                org, events = Organisation.register(org_id, profile, at)
                changes.append(Change(org, events, new=True))
                registered += 1
            elif org.removed:
                changes.append(Change(org, org.reregister(profile, at)))
                registered += 1
            elif events := org.update(profile, at):
                changes.append(Change(org, events))
                updated += 1
        if changes:
            await self.store.commit(changes, correlation_id)
        return ImportResult(registered, updated, len(rows) - registered - updated)

    async def update_organisation(
        self, org_id: str, profile: OrganisationProfile, expected_version: int, correlation_id: str
    ) -> Organisation:
        org = await self.store.load(Organisation, org_id, expected_version)
        if events := org.update(profile, self.clock()):
            await self.store.save(org, events, correlation_id)
        return org

    async def remove_organisation(
        self, org_id: str, expected_version: int, correlation_id: str
    ) -> Organisation:
        org = await self.store.load(Organisation, org_id, expected_version)
        await self.store.save(org, org.remove(self.clock()), correlation_id)
        return org

    # needs

    async def post_need(
        self, commissioner_id: str, details: NeedDetails, correlation_id: str
    ) -> Need:
        commissioner = await self.store.get(Organisation, commissioner_id)
        if commissioner is None:
            raise NotFound(
                f"organisation {commissioner_id} does not exist", field="commissioner_id"
            )
        need, events = Need.post(new_id("need"), commissioner, details, self.clock())
        await self.store.save(need, events, correlation_id, new=True)
        return need

    async def revise_need(
        self, need_id: str, details: NeedDetails, expected_version: int, correlation_id: str
    ) -> Need:
        need = await self.store.load(Need, need_id, expected_version)
        if events := need.revise(details, self.clock()):
            await self.store.save(need, events, correlation_id)
        return need

    async def move_need(
        self, need_id: str, status: NeedStatus, expected_version: int, correlation_id: str
    ) -> Need:
        need = await self.store.load(Need, need_id, expected_version)
        if events := need.move_to(status, self.clock()):
            await self.store.save(need, events, correlation_id)
        return need

    # partnerships

    async def _partners(self, partner_ids: Sequence[str]) -> list[Organisation]:
        found = await self.store.get_many(Organisation, list(partner_ids))
        missing = [p for p in partner_ids if p not in found]
        if missing:
            raise NotFound(f"no organisation {', '.join(missing)}", field="partner_ids")
        return [found[p] for p in partner_ids]

    async def propose(
        self,
        need_id: str,
        partner_ids: Sequence[str],
        answers: RouteAnswers,
        note: str,
        correlation_id: str,
    ) -> Partnership:
        need = await self.store.load(Need, need_id)
        partners = await self._partners(partner_ids)
        partnership, events = Partnership.propose(
            new_id("psp"), need, partners, answers, note, self.clock()
        )
        await self.store.save(partnership, events, correlation_id, new=True)
        return partnership

    async def move_partnership(
        self,
        partnership_id: str,
        stage: Stage,
        note: str,
        expected_version: int,
        correlation_id: str,
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        await self.store.save(p, p.move_to(stage, note, self.clock()), correlation_id)
        return p

    async def recheck_route(
        self, partnership_id: str, answers: RouteAnswers, expected_version: int, correlation_id: str
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        partners = await self._partners(p.partner_ids)
        await self.store.save(p, p.recheck_route(answers, partners, self.clock()), correlation_id)
        return p

    async def contribute(
        self,
        partnership_id: str,
        party_id: str,
        form: Literal["money", "in_kind"],
        description: str,
        value_gbp: int,
        expected_version: int,
        correlation_id: str,
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        events = p.contribute(party_id, form, description, value_gbp, self.clock())
        await self.store.save(p, events, correlation_id)
        return p

    async def record_outcomes(
        self,
        partnership_id: str,
        outcomes: OutcomeMetrics,
        expected_version: int,
        correlation_id: str,
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        await self.store.save(p, p.record_outcomes(outcomes, self.clock()), correlation_id)
        return p
