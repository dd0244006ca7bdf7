"""The organisation replica: fed by registry events only, idempotent, catching up after a stop."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from pspx import kafka, topics
from pspx.events import Envelope, new_envelope
from pspx.events.registry import (
    OrganisationProfile,
    OrganisationRegistered,
    OrganisationRemoved,
    OrganisationUpdated,
)
from stack.manifest import build
from tests.conftest import Stack, read_raw, serving
from tests.integration.exchange.conftest import (
    CHARITY,
    SOCIAL_ENTERPRISE,
    exchange_and_registry,
    known,
    practice,
)

pytestmark = pytest.mark.integration


async def test_the_exchange_catches_up_on_organisations_registered_while_it_was_stopped(
    stack: Stack,
) -> None:
    settings = stack.settings()
    async with exchange_and_registry(settings) as s:
        await s.register(CHARITY)

    async with serving(build("registry", settings)) as registry:
        response = await registry.post("/organisations", json=SOCIAL_ENTERPRISE)
        assert response.status_code == 201, response.text
        renamed = {**CHARITY["profile"], "name": "Fife Befriending"}
        response = await registry.put(
            f"/organisations/{CHARITY['id']}", json={"expected_version": 1, "profile": renamed}
        )
        assert response.status_code == 200, response.text

        restarted = build("exchange", settings)
        async with serving(restarted) as exchange:
            await known(restarted, SOCIAL_ENTERPRISE["id"])
            assert (await known(restarted, CHARITY["id"], version=2)).name == "Fife Befriending"
            posted = await exchange.post("/practices", json=practice(SOCIAL_ENTERPRISE["id"]))
            assert posted.status_code == 201, posted.text
            assert posted.json()["author"]["name"] == "Kingdom Kitchens"


def envelope(event: Any, org_id: str, version: int) -> Envelope:
    return new_envelope(event, aggregate_id=org_id, aggregate_version=version, source="registry")


def profile(name: str) -> OrganisationProfile:
    return OrganisationProfile.model_validate({"name": name, "kind": "charity"})


async def test_duplicate_replayed_and_older_events_change_nothing_and_poison_is_dead_lettered(
    fresh_stack: Stack,
) -> None:
    settings = fresh_stack.settings()
    await kafka.ensure_topics(settings)
    org = "GB-CHC-1234567"
    v1 = envelope(OrganisationRegistered(id=org, profile=profile("Old Name")), org, 1)
    v2 = envelope(OrganisationUpdated(id=org, profile=profile("New Name")), org, 2)
    sentinel = envelope(
        OrganisationRegistered(id="GB-CHC-7", profile=profile("Last")), "GB-CHC-7", 1
    )

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        # Same key as the organisation, so the poison sits in its partition, before the rest.
        for value in (
            v1.model_dump_json().encode(),
            b"{not an envelope",
            v2.model_dump_json().encode(),
            v2.model_dump_json().encode(),  # duplicate
            v1.model_dump_json().encode(),  # an older version after the newer one
        ):
            await producer.send_and_wait(topics.ORGANISATIONS, value, key=org.encode())
        await producer.send_and_wait(
            topics.ORGANISATIONS, sentinel.model_dump_json().encode(), key=org.encode()
        )
    finally:
        await producer.stop()

    app = build("exchange", settings)
    async with serving(app):
        await known(app, "GB-CHC-7")
        stored = await app.state.exchange.store.organisation(org)
    assert (stored.name, stored.version, stored.removed) == ("New Name", 2, False)

    [(body, headers)] = await read_raw(settings, topics.dead_letter(topics.ORGANISATIONS), 1)
    assert body == b"{not an envelope"
    assert headers["dlq_group"] == "exchange"
    assert headers["dlq_attempts"] == "1"


async def test_a_removal_keeps_the_name_and_a_late_registration_does_not_revive(
    fresh_stack: Stack,
) -> None:
    settings = fresh_stack.settings()
    await kafka.ensure_topics(settings)
    org = "GB-CHC-2345678"
    events = [
        envelope(OrganisationRegistered(id=org, profile=profile("Kept Name")), org, 1),
        envelope(OrganisationRemoved(id=org, name="Kept Name"), org, 2),
        envelope(OrganisationRegistered(id=org, profile=profile("Kept Name")), org, 1),  # replay
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(
                topics.ORGANISATIONS, e.model_dump_json().encode(), key=org.encode()
            )
        done = envelope(OrganisationRegistered(id="GB-CHC-8", profile=profile("L")), "GB-CHC-8", 1)
        await producer.send_and_wait(
            topics.ORGANISATIONS, done.model_dump_json().encode(), key=org.encode()
        )
    finally:
        await producer.stop()

    app = build("exchange", settings)
    async with serving(app) as exchange:
        await known(app, "GB-CHC-8")
        stored = await app.state.exchange.store.organisation(org)
        refused = await exchange.post("/practices", json=practice(org))
    assert (stored.name, stored.kind, stored.removed, stored.version) == (
        "Kept Name",
        "charity",
        True,
        2,
    )
    assert refused.status_code == 403
