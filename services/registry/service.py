"""Registry use cases: load, apply a domain command, store the change with its events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pspx.aggregates import Change
from pspx.errors import DomainError, NotFound
from pspx.events.registry import NeedDetails, NeedStatus, OrganisationProfile, Stage
from services.registry.domain import (
    Contribution,
    Need,
    Organisation,
    OutcomeMetrics,
    Partnership,
)
from services.registry.route import RouteAnswers
from services.registry.store import RegistryStore


@dataclass(frozen=True)
class ImportResult:
    registered: int
    updated: int
    unchanged: int


class Registry:
    def __init__(self, store: RegistryStore) -> None:
        self.store = store

    # organisations

    async def register(self, org_id: str, profile: OrganisationProfile, cid: str) -> Organisation:
        existing = await self.store.get(Organisation, org_id)
        if existing is not None:
            events = existing.reregister(profile)
            await self.store.save(existing, events, cid)
            return existing
        org, events = Organisation.register(org_id, profile)
        await self.store.save(org, events, cid, new=True)
        return org

    async def import_organisations(
        self, rows: Sequence[tuple[str, OrganisationProfile]], cid: str
    ) -> ImportResult:
        """Register or update a batch in one transaction; rows already current change nothing."""
        ids = [org_id for org_id, _ in rows]
        if len(set(ids)) != len(ids):
            raise DomainError("the batch names an organisation twice", field="id")
        known = await self.store.get_many(Organisation, ids)
        changes: list[Change] = []
        registered = updated = 0
        for org_id, profile in rows:
            org = known.get(org_id)
            if org is None:
                org, events = Organisation.register(org_id, profile)
                changes.append(Change(org, events, new=True))
                registered += 1
            elif org.removed:
                changes.append(Change(org, org.reregister(profile)))
                registered += 1
            elif events := org.update(profile):
                changes.append(Change(org, events))
                updated += 1
        if changes:
            await self.store.commit(changes, cid)
        return ImportResult(registered, updated, len(rows) - registered - updated)

    async def update_organisation(
        self, org_id: str, profile: OrganisationProfile, expected_version: int, cid: str
    ) -> Organisation:
        org = await self.store.load(Organisation, org_id, expected_version)
        if events := org.update(profile):
            await self.store.save(org, events, cid)
        return org

    async def remove_organisation(
        self, org_id: str, expected_version: int, cid: str
    ) -> Organisation:
        org = await self.store.load(Organisation, org_id, expected_version)
        await self.store.save(org, org.remove(), cid)
        return org

    async def organisation(self, org_id: str) -> Organisation:
        org = await self.store.load(Organisation, org_id)
        if org.removed:
            raise NotFound(f"organisation {org_id} has been removed")
        return org

    # needs

    async def post_need(self, commissioner_id: str, details: NeedDetails, cid: str) -> Need:
        commissioner = await self.store.get(Organisation, commissioner_id)
        if commissioner is None:
            raise NotFound(
                f"organisation {commissioner_id} does not exist", field="commissioner_id"
            )
        need, events = Need.post(f"need-{uuid.uuid4().hex[:12]}", commissioner, details)
        await self.store.save(need, events, cid, new=True)
        return need

    async def revise_need(
        self, need_id: str, details: NeedDetails, expected_version: int, cid: str
    ) -> Need:
        need = await self.store.load(Need, need_id, expected_version)
        if events := need.revise(details):
            await self.store.save(need, events, cid)
        return need

    async def move_need(
        self, need_id: str, status: NeedStatus, expected_version: int, cid: str
    ) -> Need:
        need = await self.store.load(Need, need_id, expected_version)
        if events := need.move_to(status):
            await self.store.save(need, events, cid)
        return need

    async def need(self, need_id: str) -> Need:
        return await self.store.load(Need, need_id)

    # partnerships

    async def _partners(self, partner_ids: Sequence[str]) -> list[Organisation]:
        found = await self.store.get_many(Organisation, list(partner_ids))
        missing = [p for p in partner_ids if p not in found]
        if missing:
            raise NotFound(f"no organisation {', '.join(missing)}", field="partner_ids")
        return [found[p] for p in partner_ids]

    async def propose(
        self, need_id: str, partner_ids: Sequence[str], answers: RouteAnswers, note: str, cid: str
    ) -> Partnership:
        need = await self.store.load(Need, need_id)
        partners = await self._partners(partner_ids)
        partnership, events = Partnership.propose(
            f"psp-{uuid.uuid4().hex[:12]}", need, partners, answers, note
        )
        await self.store.save(partnership, events, cid, new=True)
        return partnership

    async def move_partnership(
        self, partnership_id: str, stage: Stage, note: str, expected_version: int, cid: str
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        await self.store.save(p, p.move_to(stage, note), cid)
        return p

    async def recheck_route(
        self, partnership_id: str, answers: RouteAnswers, expected_version: int, cid: str
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        p.recheck_route(answers, await self._partners(p.partner_ids))
        await self.store.save(p, [], cid)
        return p

    async def contribute(
        self, partnership_id: str, contribution: Contribution, expected_version: int, cid: str
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        p.contribute(contribution)
        await self.store.save(p, [], cid)
        return p

    async def record_outcomes(
        self, partnership_id: str, outcomes: OutcomeMetrics, expected_version: int, cid: str
    ) -> Partnership:
        p = await self.store.load(Partnership, partnership_id, expected_version)
        p.record_outcomes(outcomes)
        await self.store.save(p, [], cid)
        return p

    async def partnership(self, partnership_id: str) -> Partnership:
        return await self.store.load(Partnership, partnership_id)
