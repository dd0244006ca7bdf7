"""``pspx dlq`` against the real broker: the exchange dead-letters what it cannot read yet,
the listing names it, and once the exchange can read it a re-drive gets it applied, once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from typer.testing import CliRunner, Result

from pspx import kafka, topics
from pspx.events import Envelope, new_envelope
from pspx.events.registry import OrganisationProfile, OrganisationRegistered, OrgKind
from pspx.settings import Settings
from services.exchange.store import ExchangeStore
from stack import dlq
from stack.cli import app
from stack.manifest import build
from tests.conftest import Stack, serving
from tests.integration.exchange.conftest import known

pytestmark = pytest.mark.integration

DLQ = topics.dead_letter(topics.ORGANISATIONS)


def newer(org_id: str, name: str) -> Envelope:
    """An organisation registered as a newer registry writes it: schema version 2."""
    profile = OrganisationProfile(name=name, kind=OrgKind.CHARITY, description="befriending")
    event = OrganisationRegistered(id=org_id, profile=profile)
    envelope = new_envelope(event, aggregate_id=org_id, aggregate_version=1, source="registry")
    return envelope.model_copy(update={"version": 2})


async def publish(settings: Settings, envelopes: list[Envelope]) -> None:
    """As the registry's relay does: key = aggregate id, the envelope's headers."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(
                topics.ORGANISATIONS,
                envelope.model_dump_json().encode(),
                key=envelope.aggregate_id.encode(),
                headers=[(k, v.encode()) for k, v in envelope.headers().items()],
            )
    finally:
        await producer.stop()


async def dead_letters(settings: Settings, count: int, timeout_s: float = 60) -> dlq.Holding:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        (holding,) = await dlq.fetch(settings.kafka_bootstrap, [DLQ])
        if len(holding.letters) >= count:
            return holding
        assert asyncio.get_running_loop().time() < deadline, holding
        await asyncio.sleep(0.2)


async def pspx(settings: Settings, *args: str) -> Result:
    """``pspx dlq ...`` on this test's broker; in a thread, as the command runs its own loop."""

    def run() -> Result:
        env = {"PSPX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
        return CliRunner().invoke(app, ["dlq", *args], env=env)

    return await asyncio.to_thread(run)


async def copies(settings: Settings) -> list[dlq.Letter]:
    """The records re-driven to the organisations topic."""
    (holding,) = await dlq.fetch(settings.kafka_bootstrap, [topics.ORGANISATIONS])
    return [r for r in holding.letters if r.header(dlq.REDRIVEN_FROM)]


async def test_dead_letters_are_listed_then_redriven_once_their_cause_is_mended(
    fresh_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fresh_stack.settings()
    await kafka.ensure_topics(settings)
    sent = {
        e.aggregate_id: e for e in (newer("GB-CHC-7001", "Bothy"), newer("GB-CHC-7002", "Cairn"))
    }
    await publish(settings, list(sent.values()))
    exchange_app = build("exchange", settings)
    async with serving(exchange_app):
        store: ExchangeStore = exchange_app.state.exchange.store
        # The exchange reads only version 1: both go to the dead-letter topic.
        await dead_letters(settings, count=2)
        assert [await store.organisation(org_id) for org_id in sent] == [None, None]

        listed = await pspx(settings, "list", topics.ORGANISATIONS)
        assert listed.exit_code == 0, listed.output
        for org_id in sent:
            (line,) = [x for x in listed.stdout.splitlines() if org_id in x]
            assert line.split()[2:5] == ["organisations", "exchange", "1"]
            assert "to re-drive" in line and "NewerVersion" in line
        assert f"{DLQ}: 2 dead letters, 2 to re-drive" in listed.stdout

        as_json = await pspx(settings, "list", "--json")
        assert as_json.exit_code == 0, as_json.output
        found: dict[str, dict[str, Any]] = {}
        for line in as_json.stdout.splitlines():
            record = json.loads(line)
            found[record["key"]] = record
        assert set(found) == set(sent)
        for org_id, envelope in sent.items():
            assert Envelope.model_validate_json(found[org_id]["value"]) == envelope
            assert found[org_id]["origin"].startswith(f"{topics.ORGANISATIONS}/")
        assert f"{DLQ}: 2 dead letters, 2 to re-drive" in as_json.stderr

        unknown = await pspx(settings, "redrive", topics.ORGANISATIONS, "--offset", "3@99")
        assert unknown.exit_code == 2 and f"{DLQ} has no dead letter at 3@99" in unknown.stderr
        dry = await pspx(settings, "redrive", topics.ORGANISATIONS, "--all", "--dry-run")
        assert dry.exit_code == 0 and dry.stdout.count("would send") == 2
        assert await copies(settings) == []

        # The fix: the exchange learns version 2, as a deploy of a newer reader would bring.
        # Patched in place, so that the running consumer, already past the originals, can
        # only get them back from a re-drive.
        monkeypatch.setattr(OrganisationRegistered, "version", 2)
        first = found["GB-CHC-7001"]
        at = f"{first['partition']}@{first['offset']}"
        one = await pspx(settings, "redrive", DLQ, "--offset", at)
        assert one.exit_code == 0, one.output
        assert one.stdout.count("sent ") == 1 and f"sent {at} -> " in one.stdout
        assert (await known(exchange_app, "GB-CHC-7001")).name == "Bothy"

        rest = await pspx(settings, "redrive", topics.ORGANISATIONS, "--all")
        assert rest.exit_code == 0, rest.output
        assert rest.stdout.count("sent ") == 1 and "'GB-CHC-7002'" in rest.stdout
        assert (await known(exchange_app, "GB-CHC-7002")).name == "Cairn"

        again = await pspx(settings, "redrive", topics.ORGANISATIONS, "--all")
        assert again.exit_code == 0 and "sent " not in again.stdout
        assert f"nothing to re-drive in {DLQ}" in again.stdout
        named_again = await pspx(settings, "redrive", topics.ORGANISATIONS, "--offset", at)
        assert f"skipped {at}: already re-driven" in named_again.stdout

    # One copy of each went back: same key and value, the record's headers, none of the
    # dead-letter ones, and where it came from.
    back = await copies(settings)
    assert sorted((c.key or b"").decode() for c in back) == sorted(sent)
    for copy in back:
        envelope = sent[(copy.key or b"").decode()]
        assert copy.value == envelope.model_dump_json().encode()
        assert copy.header("event_id") == str(envelope.event_id)
        assert copy.header("dlq_error") is None and copy.header("dlq_origin") is None
        assert (copy.header(dlq.REDRIVEN_FROM) or "").startswith(f"{DLQ}/")
    listed = await pspx(settings, "list", DLQ)
    assert f"{DLQ}: 2 dead letters, 0 to re-drive" in listed.stdout
