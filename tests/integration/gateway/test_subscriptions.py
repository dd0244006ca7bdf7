"""Live alerts over graphql-transport-ws, fed from Kafka: a match after a partner registers,
``needFits`` after a need is posted, and nobody hears of another organisation's needs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.auth import Role
from tests.integration.gateway.conftest import System, register, uid

pytestmark = pytest.mark.integration

POST_NEED = """
mutation Post($title: String!, $text: String!) {
  postNeed(details: {title: $title, description: $text}) { ... on Need { needId } }
}"""


async def subscribe(system: System, token: str | None, query: str) -> ClientConnection:
    url = system.urls["gateway"].replace("http://", "ws://") + "/graphql"
    ws = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    payload = {"authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    return ws


async def next_data(ws: ClientConnection, timeout_s: float = 30) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if message["type"] == "next":
            data: dict[str, Any] = message["payload"]
            return data
        if message["type"] in {"error", "complete"}:
            raise AssertionError(message)


async def nothing_within(ws: ClientConnection, seconds: float) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def test_a_commissioner_hears_of_a_partner_that_registers_for_its_need(
    system: System,
) -> None:
    word = f"vellumcraft{uid()}"
    token = system.token(Role.COMMISSIONER)
    other = system.token(Role.COMMISSIONER, system.other_commissioner)
    need = system.graphql(
        POST_NEED, {"title": "Repair cafes", "text": f"Repair cafes {word}"}, token=token
    )["data"]["postNeed"]
    query = """subscription { matchFound { cursor needId partnerId score trigger
        reasons { term } partner { name } } }"""
    mine = await subscribe(system, token, query)
    theirs = await subscribe(system, other, query)
    try:
        await asyncio.sleep(1)  # the subscriptions are open before the partner registers
        partner_id = f"GB-CHC-{uid()}"
        await asyncio.to_thread(
            register,
            system.urls["registry"],
            partner_id,
            "Fixers Guild",
            "charity",
            f"Repair cafes {word} in every library",
        )
        alert = (await next_data(mine))["data"]["matchFound"]
        assert alert["needId"] == need["needId"]
        assert alert["partnerId"] == partner_id
        assert alert["partner"]["name"] == "Fixers Guild"
        assert word in {r["term"] for r in alert["reasons"]}
        assert alert["cursor"]
        assert await nothing_within(theirs, 3)  # another council's need is none of theirs
    finally:
        await mine.close()
        await theirs.close()


async def test_a_partner_hears_of_a_need_that_fits_it_and_can_resume(system: System) -> None:
    word = f"lanternwick{uid()}"
    partner_id = f"GB-CHC-{uid()}"
    await asyncio.to_thread(
        register,
        system.urls["registry"],
        partner_id,
        "Candle Makers",
        "charity",
        f"Candle workshops {word} for young carers",
    )
    await asyncio.sleep(2)  # indexed before the need arrives
    partner_token = system.token(Role.PARTNER, partner_id)
    query = "subscription { needFits { cursor needId partnerId trigger need { title } } }"
    ws = await subscribe(system, partner_token, query)
    try:
        await asyncio.sleep(1)
        posted = await asyncio.to_thread(
            system.graphql,
            POST_NEED,
            {"title": "Workshops", "text": f"Candle workshops {word}"},
            system.token(Role.COMMISSIONER),
        )
        alert = (await next_data(ws))["data"]["needFits"]
        assert alert["needId"] == posted["data"]["postNeed"]["needId"]
        assert alert["partnerId"] == partner_id
        assert alert["need"]["title"] == "Workshops"
    finally:
        await ws.close()

    # Reconnecting with a cursor from before the next need misses nothing.
    cursor = alert["cursor"]
    second = await asyncio.to_thread(
        system.graphql,
        POST_NEED,
        {"title": "More workshops", "text": f"Candle workshops {word} again"},
        system.token(Role.COMMISSIONER),
    )
    await asyncio.sleep(3)  # the alert went out while nobody listened
    resumed = await subscribe(
        system, partner_token, f'subscription {{ needFits(after: "{cursor}") {{ needId }} }}'
    )
    try:
        again = (await next_data(resumed))["data"]["needFits"]
        assert again["needId"] == second["data"]["postNeed"]["needId"]
    finally:
        await resumed.close()


async def test_a_private_subscription_without_a_token_is_refused(system: System) -> None:
    ws = await subscribe(system, None, "subscription { matchFound { needId } }")
    try:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["type"] == "next"
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        await ws.close()
