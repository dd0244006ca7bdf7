"""Consumers commit after processing, retry a bounded number of times, dead-letter poison."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from pspx import kafka, topics
from pspx.events import Envelope, new_envelope
from pspx.events.registry import OrganisationRemoved
from tests.conftest import Stack, read_raw

pytestmark = pytest.mark.integration


def removed(org_id: str) -> Envelope:
    return new_envelope(
        OrganisationRemoved(id=org_id, name=org_id),
        aggregate_id=org_id,
        aggregate_version=1,
        source="test",
    )


async def test_retry_then_dead_letter_and_poison_never_block(fresh_stack: Stack) -> None:
    settings = fresh_stack.settings(consumer_retries=2)
    await kafka.ensure_topics(settings)
    attempts: Counter[str] = Counter()
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        attempts[envelope.aggregate_id] += 1
        if envelope.aggregate_id == "flaky" and attempts["flaky"] < 2:
            raise RuntimeError("transient")
        if envelope.aggregate_id == "broken":
            raise RuntimeError("always fails")
        handled.append(envelope.aggregate_id)
        if envelope.aggregate_id == "last":
            done.set()

    broker = kafka.broker(settings, "guard-test")
    kafka.subscribe(
        broker, topics.ORGANISATIONS, group="guard-test", handle=handle, settings=settings
    )

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for env in (removed("flaky"), removed("broken")):
            await producer.send_and_wait(
                topics.ORGANISATIONS, env.model_dump_json().encode(), key=b"same-key"
            )
        await producer.send_and_wait(topics.ORGANISATIONS, b"\xff not json", key=b"same-key")
        await producer.send_and_wait(
            topics.ORGANISATIONS, removed("last").model_dump_json().encode(), key=b"same-key"
        )
    finally:
        await producer.stop()

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await broker.stop()

    assert handled == ["flaky", "last"]  # the poison and the broken one did not block "last"
    assert attempts["flaky"] == 2
    assert attempts["broken"] == 3  # one try and two retries

    dead = await read_raw(settings, topics.dead_letter(topics.ORGANISATIONS), count=2)
    errors = {h["dlq_error"].split(":")[0]: h for _, h in dead}
    assert set(errors) == {"RuntimeError", "ValidationError"}
    assert errors["RuntimeError"]["dlq_attempts"] == "3"
    assert errors["ValidationError"]["dlq_attempts"] == "1"  # poison goes straight there
    assert all(h["dlq_group"] == "guard-test" for _, h in dead)
    assert any(body == b"\xff not json" for body, _ in dead)
