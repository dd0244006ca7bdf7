"""A consumer group's subscriber commits after each batch, retries a failing event a bounded
number of times, dead-letters poison, and skips event types it does not handle."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from pspx import consumers, kafka, topics
from pspx.consumers import Batch, Intake
from pspx.events import Envelope, new_envelope
from pspx.events.registry import OrganisationRemoved
from pspx.spec import Subscription
from tests.conftest import Stack, read_raw, skipped

pytestmark = pytest.mark.integration


def removed(org_id: str) -> Envelope:
    return new_envelope(
        OrganisationRemoved(id=org_id, name=org_id),
        aggregate_id=org_id,
        aggregate_version=1,
        source="test",
    )


def variant(org_id: str, **changes: object) -> bytes:
    """A removal as a newer producer might write it."""
    raw = json.loads(removed(org_id).model_dump_json())
    raw.update(changes)
    return json.dumps(raw).encode()


async def test_retry_then_dead_letter_poison_and_skip_what_is_not_handled(
    fresh_stack: Stack,
) -> None:
    settings = fresh_stack.settings(consumer_retries=2)
    await kafka.ensure_topics(settings)
    attempts: Counter[str] = Counter()
    handled: list[str] = []
    done = asyncio.Event()
    consumer = f"guard-test-{uuid.uuid4().hex[:6]}"

    async def handle(batch: Batch) -> None:
        for envelope, event in batch:
            attempts[envelope.aggregate_id] += 1
            if envelope.aggregate_id == "flaky" and attempts["flaky"] < 3:
                raise RuntimeError("transient")
            if envelope.aggregate_id == "broken":
                raise RuntimeError("always fails")
            assert isinstance(event, OrganisationRemoved)
            if event.id not in handled:  # idempotent, as every handler here is
                handled.append(event.id)
            if envelope.aggregate_id == "last":
                done.set()

    broker = kafka.broker(settings, "guard-test")
    subscription = Subscription(consumer, (topics.ORGANISATIONS,), group=consumer)
    intake = Intake(broker, settings, subscription, [OrganisationRemoved], handle)
    consumers.subscribe(broker, intake, settings, title=consumer)

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for body in (
            removed("flaky").model_dump_json().encode(),
            removed("broken").model_dump_json().encode(),
            b"\xff not json",
            variant("verified", event_type="organisation.verified"),  # a type from the future
            variant("v2", version=2),  # a known type at a version this reader does not know
            variant(
                "extra", payload={"id": "extra", "name": "X", "since": "2027"}
            ),  # one more field
            removed("last").model_dump_json().encode(),
        ):
            await producer.send_and_wait(topics.ORGANISATIONS, body, key=b"same-key")
    finally:
        await producer.stop()

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        await broker.stop()

    # Poison, a newer version and the broken one did not block the rest of the partition.
    assert handled == ["flaky", "extra", "last"]
    # The batch failed on "flaky", its first event; then each event alone: "flaky" succeeds
    # on its second try alone, "broken" is tried once and retried twice.
    assert attempts["flaky"] == 1 + 2
    assert attempts["broken"] == 1 + 2
    assert skipped(consumer, "organisation.verified") == 1
    assert (intake.read, intake.dead_lettered) == (7, 3)

    dead = await read_raw(settings, topics.dead_letter(topics.ORGANISATIONS), count=3)
    errors = {h["dlq_error"].split(":")[0]: h for _, h in dead}
    assert set(errors) == {"RuntimeError", "UnicodeDecodeError", "NewerVersion"}
    assert errors["RuntimeError"]["dlq_attempts"] == "3"
    assert errors["UnicodeDecodeError"]["dlq_attempts"] == "1"  # poison goes straight there
    assert errors["NewerVersion"]["dlq_attempts"] == "1"
    assert all(h["dlq_group"] == consumer and h["dlq_consumer"] == consumer for _, h in dead)
    assert any(body == b"\xff not json" for body, _ in dead)


async def test_a_handler_for_a_topic_the_subscription_does_not_read_is_refused() -> None:
    settings = Stack(1, 1).settings()
    broker = kafka.broker(settings, "wiring-test")

    async def nothing(batch: Batch) -> None:
        return None

    with pytest.raises(ValueError, match=r"organisation\.removed"):
        Intake(
            broker,
            settings,
            Subscription("needs-only", (topics.NEEDS,), group="needs-only"),
            [OrganisationRemoved],
            nothing,
        )
