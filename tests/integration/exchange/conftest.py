"""Exchange integration helpers: the registry beside it, and waiting for its replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from pspx.settings import Settings
from services.exchange.domain import Organisation
from services.exchange.store import ExchangeStore
from stack.manifest import build
from tests.conftest import serving

COUNCIL: dict[str, Any] = {
    "id": "GB-LAS-FIFE",
    "profile": {"name": "Fife Council", "kind": "public_body", "regions": ["Scotland"]},
}
HEALTH_BOARD: dict[str, Any] = {
    "id": "GB-NHS-FIFE",
    "profile": {"name": "NHS Fife", "kind": "public_body", "regions": ["Scotland"]},
}
CHARITY: dict[str, Any] = {
    "id": "GB-SC-SC012345",
    "profile": {"name": "Fife Befriending Network", "kind": "charity", "regions": ["Scotland"]},
}
SOCIAL_ENTERPRISE: dict[str, Any] = {
    "id": "GB-COH-SC654321",
    "profile": {"name": "Kingdom Kitchens", "kind": "social_enterprise", "regions": ["Scotland"]},
}


def practice(author_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "author_id": author_id,
        "title": "Telephone befriending for isolated older people",
        "summary": "Weekly calls by trained volunteers cut loneliness scores by a third.",
        "body": "## What we did\n\nWeekly calls. <script>alert(1)</script>",
        "service_area": "Older people",
        "regions": ["Scotland"],
        "outcomes": ["Less loneliness"],
        "evidence": {
            "people_served": 340,
            "cost_savings_gbp": 52000,
            "quality_measures": [{"name": "UCLA loneliness score", "value": -2.1}],
            "evaluations": [{"title": "Evaluation 2025", "url": "https://example.org/eval.pdf"}],
        },
        "tags": ["loneliness", "volunteering"],
        "publish": True,
    }
    body.update(overrides)
    return body


@dataclass
class Services:
    registry: httpx.AsyncClient
    exchange: httpx.AsyncClient
    exchange_app: FastAPI
    settings: Settings

    @property
    def store(self) -> ExchangeStore:
        store: ExchangeStore = self.exchange_app.state.exchange.store
        return store

    async def register(self, *orgs: dict[str, Any]) -> None:
        """Register in the registry and wait until the exchange has heard of each one."""
        for org in orgs:
            response = await self.registry.post("/organisations", json=org)
            assert response.status_code == 201, response.text
        for org in orgs:
            await known(self.exchange_app, org["id"])


@asynccontextmanager
async def exchange_and_registry(settings: Settings) -> AsyncIterator[Services]:
    exchange_app = build("exchange", settings)
    async with serving(build("registry", settings)) as registry, serving(exchange_app) as exchange:
        yield Services(registry, exchange, exchange_app, settings)


async def known(
    exchange_app: FastAPI, org_id: str, *, version: int = 1, timeout_s: float = 30
) -> Organisation:
    """The exchange's replica of ``org_id`` once it has reached ``version``."""
    store: ExchangeStore = exchange_app.state.exchange.store
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        org = await store.organisation(org_id)
        if org is not None and org.version >= version:
            return org
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the exchange never heard of {org_id} version {version}")
        await asyncio.sleep(0.1)
