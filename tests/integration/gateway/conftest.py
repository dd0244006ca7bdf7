"""The whole system as processes (the three services and the gateway) on the shared broker
and database, with organisations for each role, and GraphQL over HTTP as a client sends it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth import LocalKeys, Principal, Role
from tests.conftest import Stack, processes


def uid() -> str:
    return str(uuid.uuid4().int % 10**8)


@dataclass
class System:
    urls: dict[str, str]
    keys: LocalKeys
    commissioner: str  # a public body
    other_commissioner: str
    partner: str  # a charity
    other_partner: str
    operator: str  # the platform's own organisation
    word: str  # a word only this run's partner uses

    def token(self, role: Role | None, org_id: str | None = None) -> str | None:
        if role is None:
            return None
        org = (
            org_id
            or {
                Role.COMMISSIONER: self.commissioner,
                Role.PARTNER: self.partner,
                Role.OPERATOR: self.operator,
            }[role]
        )
        return self.keys.sign(Principal(subject=f"test-{role.value}", org_id=org, role=role))

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.urls['gateway']}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def register(registry: str, org_id: str, name: str, kind: str, description: str) -> None:
    body = {"id": org_id, "profile": {"name": name, "kind": kind, "description": description}}
    response = httpx.post(f"{registry}/organisations", json=body, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def system(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    data = tmp_path_factory.mktemp("gateway")
    settings = stack.settings(data_dir=data, log_check_s=1.0)
    names = ["registry", "exchange", "matching", "gateway"]
    with processes(settings, names, Path(data) / "logs") as urls:
        word = f"quillonet{uid()}"
        ids = {
            "commissioner": f"GB-LAE-T{uid()}",
            "other_commissioner": f"GB-LAE-U{uid()}",
            "partner": f"GB-CHC-{uid()}",
            "other_partner": f"GB-CHC-{uid()}",
            "operator": f"GB-PSPX-T{uid()}",
        }
        registry = urls["registry"]
        register(registry, ids["commissioner"], "Test Borough Council", "public_body", "Council")
        register(registry, ids["other_commissioner"], "Other Council", "public_body", "Council")
        register(
            registry,
            ids["partner"],
            "Test Lunch Club",
            "charity",
            f"Lunch clubs and befriending {word} for isolated older people",
        )
        register(registry, ids["other_partner"], "Other Trust", "charity", "Sports coaching")
        register(registry, ids["operator"], "Operations", "private", "Runs the platform")
        yield System(urls=urls, keys=LocalKeys(settings), word=word, **ids)
