"""Across services: a practice published on the exchange reaches matching and its search."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from services.exchange.matching_client import MatchingClient
from stack.manifest import build
from tests.conftest import Stack, serving
from tests.integration.exchange.conftest import known, practice

pytestmark = pytest.mark.integration


async def test_a_published_practice_is_found_through_the_exchange(stack: Stack) -> None:
    settings = stack.settings()
    word = f"kelpwise{uuid.uuid4().int % 10**8}"
    charity: dict[str, Any] = {
        "id": f"GB-SC-SC{uuid.uuid4().int % 10**6:06d}",
        "profile": {"name": "Coastal Care", "kind": "charity", "regions": ["Scotland"]},
    }

    def partner(region: str) -> dict[str, object]:
        return {
            "id": f"GB-CHC-{uuid.uuid4().int % 10**7}",
            "profile": {
                "name": f"{region} Island Jobs",
                "kind": "social_enterprise",
                "description": f"{word} seaweed harvesting cooperatives creating island jobs",
                "regions": [region],
            },
        }

    scottish, english = partner("Scotland"), partner("England and Wales")
    matching_app = build("matching", settings)
    async with serving(matching_app) as matching, serving(build("registry", settings)) as registry:
        client = MatchingClient("http://matching", transport=httpx.ASGITransport(app=matching_app))
        exchange_app = build("exchange", settings, matching=client)
        async with serving(exchange_app) as exchange:
            assert (await registry.post("/organisations", json=charity)).status_code == 201
            await known(exchange_app, charity["id"])
            posted = await exchange.post(
                "/practices",
                json=practice(charity["id"], title=f"Seaweed {word} cooperatives for island jobs"),
            )
            assert posted.status_code == 201, posted.text
            practice_id = posted.json()["id"]

            results: list[dict[str, object]] = []
            for _ in range(150):
                found = await exchange.get("/practices/search", params={"q": f"{word} seaweed"})
                assert found.status_code == 200, found.text
                results = found.json()["results"]
                if results:
                    break
                await asyncio.sleep(0.1)
            assert [r["practice"]["id"] for r in results] == [practice_id]  # type: ignore[index]

            # The practice also speaks for its author when partners are ranked.
            ranked = await matching.post("/rank", json={"description": f"{word} seaweed"})
            assert [r["id"] for r in ranked.json()["results"]] == [charity["id"]]

            for other in (scottish, english):
                assert (await registry.post("/organisations", json=other)).status_code == 201
            for _ in range(150):
                ranked = await matching.post("/rank", json={"description": word})
                if len(ranked.json()["results"]) == 3:
                    break
                await asyncio.sleep(0.1)

            # ...and the bridge to local delivery finds partners for it by region.
            bridge = await matching.get(
                f"/practices/{practice_id}/partners", params={"region": "Scotland"}
            )
            assert bridge.status_code == 200
            assert charity["id"] not in [
                r["id"] for r in bridge.json()["results"]
            ]  # not its author
