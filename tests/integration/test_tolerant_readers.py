"""Readers are tolerant: what a newer producer writes never stops a service.

On a broker of their own, the topics already hold, before matching and the
exchange start: an event type from the future, events with fields nobody here
knows (nested inside the profile and the need), a message that is not JSON and
a known type at a newer schema version. Both services become ready, apply what
they know, and report what they skipped.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from pspx import kafka, topics
from pspx.events import Envelope, Event, new_envelope
from pspx.events.registry import (
    NeedPosted,
    NeedState,
    NeedStatus,
    OrganisationProfile,
    OrganisationRegistered,
    OrgKind,
)
from stack.manifest import build
from tests.conftest import Stack, read_raw, serving, skipped
from tests.integration.exchange.conftest import known

pytestmark = pytest.mark.integration


def envelope(event: Event, aggregate_id: str, version: int = 1) -> Envelope:
    return new_envelope(
        event, aggregate_id=aggregate_id, aggregate_version=version, source="registry"
    )


def registered(org_id: str, name: str, description: str) -> Envelope:
    profile = OrganisationProfile(name=name, kind=OrgKind.CHARITY, description=description)
    return envelope(OrganisationRegistered(id=org_id, profile=profile), org_id)


def as_written(env: Envelope, **payload_changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(env.model_dump_json())
    raw["payload"].update(payload_changes)
    return raw


def encoded(raw: dict[str, Any]) -> bytes:
    return json.dumps(raw).encode()


async def publish(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def ready(client: httpx.AsyncClient, timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await client.get("/readyz")).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, (await client.get("/readyz")).text
        await asyncio.sleep(0.1)


async def ranked(matching: httpx.AsyncClient, text: str) -> list[str]:
    response = await matching.post("/rank", json={"description": text, "limit": 5})
    return [r["id"] for r in response.json()["results"]]


async def test_what_a_newer_producer_wrote_is_skipped_or_read_never_fatal(
    fresh_stack: Stack,
) -> None:
    settings = fresh_stack.settings()
    await kafka.ensure_topics(settings)
    word = f"quernstone{uuid.uuid4().hex[:6]}"
    future_type = f"organisation.verified{uuid.uuid4().hex[:6]}"
    plain = registered("GB-CHC-101", "Mill Lane Trust", f"{word} milling heritage")
    extended = registered("GB-CHC-102", "Wheel House", f"{word} waterwheel restoration")
    newer = registered("GB-CHC-103", "Newer Trust", f"{word} from the future")
    profile_with_more = {
        **as_written(extended)["payload"]["profile"],
        "accreditation": {"scheme": "Quality Mark", "since": 2024},  # a field nobody knows yet
        "size": {"staff": 4, "trustees": 9},  # and one inside a nested part
    }
    need = NeedState(
        title=f"Heritage {word}",
        description=f"{word} milling and waterwheel heritage",
        commissioner_id="GB-LAE-YRK",
        status=NeedStatus.OPEN,
    )
    need_with_more = {**as_written(envelope(NeedPosted(id="need-x", need=need), "need-x"))}
    need_with_more["payload"]["need"]["funding_stream"] = "Heritage Fund"
    future = {**as_written(plain), "event_type": future_type}
    future["aggregate_version"] = 2
    await publish(
        settings.kafka_bootstrap,
        topics.ORGANISATIONS,
        [
            ("GB-CHC-101", plain.model_dump_json().encode()),
            ("GB-CHC-101", encoded(future)),
            ("GB-CHC-102", encoded(as_written(extended, profile=profile_with_more))),
            ("GB-CHC-999", b"\x00 not an event"),
            ("GB-CHC-103", encoded({**as_written(newer), "version": 99})),
        ],
    )
    await publish(settings.kafka_bootstrap, topics.NEEDS, [("need-x", encoded(need_with_more))])

    exchange_app = build("exchange", settings)
    async with serving(build("matching", settings)) as matching, serving(exchange_app) as exchange:
        await ready(matching)
        await ready(exchange)

        # Matching applied what it knows, extra fields and all, and ranked the need.
        assert set(await ranked(matching, f"{word} heritage")) == {"GB-CHC-101", "GB-CHC-102"}
        index = (await matching.get("/index")).json()
        assert index["open_needs"] == 1
        assert index["log"]["skipped"] == {future_type: 1}
        assert index["log"]["dead_lettered"] == 2  # not JSON, and a version newer than it knows
        shortlist = (await matching.get("/needs/need-x/partners")).json()["results"]
        assert {r["id"] for r in shortlist} == {"GB-CHC-101", "GB-CHC-102"}

        # The exchange's replica has both organisations; the future type was skipped.
        assert (await known(exchange_app, "GB-CHC-102")).name == "Wheel House"
        assert (await known(exchange_app, "GB-CHC-101")).version == 1
        assert skipped("organisations", future_type) == 1
        assert (await exchange.get("/readyz")).status_code == 200

    dead = await read_raw(settings, topics.dead_letter(topics.ORGANISATIONS), count=4)
    # Each reader sent the unreadable two to the dead-letter topic, and nothing else.
    by_consumer: dict[str, list[tuple[bytes, str]]] = {}
    for body, headers in dead:
        kind = headers["dlq_error"].split(":")[0]
        by_consumer.setdefault(headers["dlq_consumer"], []).append((body[:15], kind))
    assert set(by_consumer) == {"organisations", "index"}
    for found in by_consumer.values():
        assert len(found) == 2
        assert b"\x00 not an event" in {body for body, _ in found}
        assert "NewerVersion" in {kind for _, kind in found}


async def test_matching_loads_while_a_producer_keeps_publishing(fresh_stack: Stack) -> None:
    """The start-up read ends at the end offsets it saw, however busy the log stays."""
    settings = fresh_stack.settings()
    await kafka.ensure_topics(settings)
    word = f"tallowmere{uuid.uuid4().hex[:6]}"
    await publish(
        settings.kafka_bootstrap,
        topics.ORGANISATIONS,
        [
            (
                f"GB-CHC-{n}",
                registered(f"GB-CHC-{n}", f"Early {n}", word).model_dump_json().encode(),
            )
            for n in range(200)
        ],
    )
    stop = asyncio.Event()
    sent = 0

    async def keep_publishing() -> None:
        nonlocal sent
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        try:
            while not stop.is_set():
                org_id = f"GB-CHC-9{sent:05d}"
                body = registered(org_id, f"Late {sent}", f"{word} late").model_dump_json()
                await producer.send_and_wait(topics.ORGANISATIONS, body.encode(), key=b"k")
                sent += 1
                await asyncio.sleep(0.05)  # never quiet for long
        finally:
            await producer.stop()

    publisher = asyncio.create_task(keep_publishing())
    try:
        await asyncio.sleep(0.5)
        async with serving(build("matching", settings)) as matching:
            await ready(matching, timeout_s=30)
            assert not publisher.done() and sent > 0  # it loaded while events kept arriving
            index = (await matching.get("/index")).json()
            assert index["log"]["read"] >= 200
            assert index["partners"] >= 200
    finally:
        stop.set()
        await publisher
