"""The registry against the real broker and Mongo-wire server."""

from __future__ import annotations

import pytest

from pspx import topics
from pspx.events import Envelope
from services.registry.app import build
from tests.conftest import Stack, read_topic, serving

pytestmark = pytest.mark.integration

COUNCIL = {
    "id": "GB-LAS-FIFE",
    "profile": {"name": "Fife Council", "kind": "public_body", "regions": ["Scotland"]},
}
CHARITY = {
    "id": "GB-SC-SC012345",
    "profile": {
        "name": "Fife Befriending Network",
        "kind": "charity",
        "alternate_names": ["FBN"],
        "description": "Befriending for isolated older people in Fife.",
        "regions": ["Scotland"],
        "service_areas": ["Older people", "Loneliness"],
    },
}


def of(
    records: list[tuple[bytes | None, Envelope]], aggregate_id: str
) -> list[tuple[bytes | None, Envelope]]:
    return [(k, e) for k, e in records if e.aggregate_id == aggregate_id]


async def test_registered_organisation_arrives_on_its_topic_keyed_and_enveloped(
    stack: Stack,
) -> None:
    settings = stack.settings()
    async with serving(build(settings)) as api:
        response = await api.post(
            "/organisations", json=CHARITY, headers={"x-correlation-id": "cid-42"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["version"] == 1

        records = await read_topic(
            settings, topics.ORGANISATIONS, lambda rs: bool(of(rs, CHARITY["id"]))
        )
    [(key, envelope)] = of(records, CHARITY["id"])
    assert key == CHARITY["id"].encode()
    assert envelope.event_type == "organisation.registered"
    assert envelope.source == "registry"
    assert envelope.correlation_id == "cid-42"
    assert envelope.aggregate_version == 1
    assert envelope.event().model_dump()["profile"]["name"] == "Fife Befriending Network"
