"""What a client learns when something behind the gateway fails: that it failed, never how."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gateway.app import build, services_from
from pspx.settings import Settings
from stack.embedded import free_port
from stack.manifest import GATEWAY
from tests.unit.gateway.conftest import JsonServer

ORGANISATION = '{ organisation(orgId: "GB-CHC-1") { name } }'


def ask(settings: Settings, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    app = build(GATEWAY, settings, services=services_from(settings))

    async def post() -> dict[str, Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return asyncio.run(post())


def test_a_service_that_does_not_answer_is_named_as_such_and_nothing_more() -> None:
    port = free_port()  # nothing listens there
    settings = Settings(registry_url=f"http://127.0.0.1:{port}")
    body = ask(settings, ORGANISATION)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert error["message"] == "a part of PSP Exchange is not answering; try again shortly"
    assert str(port) not in str(body) and "127.0.0.1" not in str(body)


def test_an_unexpected_failure_is_masked(json_server: JsonServer) -> None:
    # An answer the gateway cannot read: a profile with no name.
    json_server.routes["/organisations?id=GB-CHC-1&limit=1"] = (
        200,
        {"items": [{"id": "GB-CHC-1", "profile": {"secret": "internal detail"}}]},
    )
    body = ask(Settings(registry_url=json_server.url), ORGANISATION)
    assert json_server.hits == ["/organisations?id=GB-CHC-1&limit=1"]
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "internal detail" not in str(body) and "KeyError" not in str(body)


def test_the_schema_names_no_service_address() -> None:
    settings = Settings(registry_url="http://registry.internal:8001")
    body = ask(settings, "{ __schema { types { name description fields { name description } } } }")
    assert "errors" not in body
    assert "registry.internal" not in str(body) and "8001" not in str(body)


def test_a_variable_that_does_not_fit_its_type_is_named_not_masked() -> None:
    query = 'query S($s: [SizeBand!]!) { searchPartners(search: {text: "x", sizes: $s}) { rank } }'
    [error] = ask(Settings(), query, {"s": ["HUGE"]})["errors"]
    assert "'HUGE' does not exist in 'SizeBand'" in error["message"]
    assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR"
