"""More than one replica of a service. A producer's relays publish one at a time (a lease in
the database, taken over when its holder stops renewing, fenced when it marks changes sent),
and sequence numbers follow commit order whichever replica staged a change and whatever its
clock says, so each aggregate's events reach the topic in version order. Matching's replicas
share the ranking through one consumer group: each need is ranked once, and a killed replica's
share is taken over."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.client_session import AsyncClientSession

from pspx import mongo, topics
from pspx.events import Envelope
from pspx.events.registry import OrganisationProfile, OrganisationRegistered, OrgKind
from pspx.lease import Lease, LeaseLost
from pspx.outbox import Outbox
from pspx.settings import Settings
from stack import embedded
from stack.run import wait_ready
from tests.conftest import Stack, read_topic, serve

pytestmark = pytest.mark.integration

TERM = timedelta(seconds=1)


async def test_one_relay_holds_the_lease_and_another_takes_over_when_it_stops_renewing(
    stack: Stack,
) -> None:
    settings = stack.settings()
    client = mongo.client(settings)
    leases = mongo.database(client, settings, "registry")["outbox_lease"]
    try:
        first, second = Lease(leases, "host-a:8101", TERM), Lease(leases, "host-b:8101", TERM)
        assert await first.hold()
        assert not await second.hold()  # the term has not run out

        await asyncio.sleep(TERM.total_seconds() * 1.2)  # the holder froze: no renewal
        assert await second.hold()
        assert second.token == (first.token or 0) + 1  # a new fencing token

        # The frozen holder wakes up: it may not mark anything sent, and knows it lost.
        with pytest.raises(LeaseLost):
            await first.fence()
        assert not await first.hold()

        await second.release()  # a clean stop: no need to wait out the term
        assert await first.hold()

        restarted = Lease(leases, "host-a:8101", TERM)  # the same replica, after a crash
        assert await restarted.hold()  # takes back its own lease at once
        with pytest.raises(LeaseLost):
            await first.fence()  # the crashed process is fenced
    finally:
        await client.close()


def registration(org_id: str) -> OrganisationRegistered:
    profile = OrganisationProfile(name=f"Befrienders {org_id}", kind=OrgKind.CHARITY)
    return OrganisationRegistered(id=org_id, profile=profile)


async def stage_one(client: Any, outbox: Outbox, org_id: str) -> None:
    async def work(session: AsyncClientSession) -> None:
        await outbox.add(
            session,
            [registration(org_id)],
            aggregate_id=org_id,
            aggregate_version=1,
            correlation_id="test",
        )

    await mongo.in_transaction(client, work)


async def test_sequence_numbers_are_given_once_in_order_across_replicas(stack: Stack) -> None:
    settings = stack.settings()
    clients = [mongo.client(settings), mongo.client(settings)]
    outboxes = [
        Outbox(mongo.database(c, settings, "registry"), "registry", [topics.ORGANISATIONS])
        for c in clients
    ]
    try:
        await outboxes[0].ensure_indexes()
        ahead = time.time_ns() + 3600 * 10**9  # numbers another replica gave, its clock ahead
        await outboxes[0].sequence.update_one({"_id": "outbox"}, {"$set": {"last": ahead}})
        await outboxes[1].ensure_indexes()  # a replica starting later never goes back

        # Two replicas staging at once, each its own organisation.
        await asyncio.gather(
            *(stage_one(clients[n % 2], outboxes[n % 2], f"GB-CHC-{n:07d}") for n in range(12))
        )
        # And one organisation changed in turn by each: its numbers follow its versions.
        for version in range(1, 5):
            await stage_version(clients[version % 2], outboxes[version % 2], version)

        markers = [m async for m in outboxes[0].pending.find().sort("seq", 1)]
        seqs = [m["seq"] for m in markers]
        assert len(set(seqs)) == len(seqs) == 16 and min(seqs) > ahead
        versions = [
            e["envelope"]["aggregate_version"]
            for m in markers
            for e in m["events"]
            if e["envelope"]["aggregate_id"] == "GB-CHC-9999999"
        ]
        assert versions == [1, 2, 3, 4]
    finally:
        for c in clients:
            await c.close()


async def stage_version(client: Any, outbox: Outbox, version: int) -> None:
    async def work(session: AsyncClientSession) -> None:
        await outbox.add(
            session,
            [registration("GB-CHC-9999999")],
            aggregate_id="GB-CHC-9999999",
            aggregate_version=version,
            correlation_id="test",
        )

    await mongo.in_transaction(client, work)


@contextmanager
def replica(
    settings: Settings, logs: Path, service: str = "registry"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One process of a service on a port of its own: a replica."""
    port = embedded.free_port()
    mine = settings.model_copy(update={f"{service}_port": port})
    logs.mkdir(parents=True, exist_ok=True)
    proc = serve(mine, service, logs / f"{service}-{port}.log")
    url = mine.service_url(service)
    try:
        wait_ready(url, proc, service)
        yield url, proc
    finally:
        embedded.stop(proc)


async def write(client: httpx.AsyncClient, url: str, org_id: str, version: int) -> None:
    profile = {"name": f"Befrienders {org_id} v{version}", "kind": "charity"}
    if version == 1:
        response = await client.post(
            f"{url}/organisations", json={"id": org_id, "profile": profile}
        )
    else:
        body = {"expected_version": version - 1, "profile": profile}
        response = await client.put(f"{url}/organisations/{org_id}", json=body)
    assert response.status_code in (200, 201), response.text


def in_version_order(envelopes: list[Envelope]) -> dict[str, list[int]]:
    """Each aggregate's versions as the topic holds them, repeats of the same one folded (a
    relay killed between publishing and marking sent repeats its last batch)."""
    versions: dict[str, list[int]] = {}
    for envelope in envelopes:
        versions.setdefault(envelope.aggregate_id, []).append(envelope.aggregate_version)
    return {k: [v for v, _ in itertools.groupby(vs)] for k, vs in versions.items()}


async def test_two_replicas_writing_one_killed_lose_nothing_and_keep_version_order(
    stack: Stack, tmp_path: Path
) -> None:
    settings = stack.settings(data_dir=tmp_path, relay_lease_s=2.0)
    orgs = [f"GB-CHC-9{n:06d}" for n in range(20)]
    versions = 6
    async with httpx.AsyncClient(timeout=30) as client:
        with replica(settings, tmp_path / "logs") as (first, first_proc):
            with replica(settings, tmp_path / "logs") as (second, _):
                # Every organisation written through both replicas in turn, version by version.
                for version in range(1, versions + 1):
                    if version == 4:
                        # Killed once everything is sent: whether it held the lease or not,
                        # nothing is lost and nothing is sent twice.
                        await until_sent(settings)
                        first_proc.kill()
                        first_proc.wait()
                    urls = [second] if version >= 4 else [first, second]
                    await asyncio.gather(
                        *(
                            write(client, urls[(n + version) % len(urls)], org, version)
                            for n, org in enumerate(orgs)
                        )
                    )

                def complete(records: list[tuple[bytes | None, Envelope]]) -> bool:
                    mine = [e for _, e in records if e.aggregate_id in orgs]
                    return all(
                        vs[-1:] == [versions] for vs in in_version_order(mine).values()
                    ) and len(in_version_order(mine)) == len(orgs)

                records = await read_topic(settings, topics.ORGANISATIONS, complete, timeout_s=60)
    ours = [e for _, e in records if e.aggregate_id in orgs]
    assert in_version_order(ours) == {org: list(range(1, versions + 1)) for org in orgs}
    assert len(ours) == len(orgs) * versions  # one relay at a time: none sent twice


async def until_sent(settings: Settings, timeout_s: float = 30) -> None:
    client = mongo.client(settings)
    pending = mongo.database(client, settings, "registry")["outbox_pending"]
    try:
        deadline = time.monotonic() + timeout_s
        while await pending.count_documents({}):
            assert time.monotonic() < deadline, "the outbox was never drained"
            await asyncio.sleep(0.1)
    finally:
        await client.close()


@pytest.fixture
def own_broker(stack: Stack, tmp_path: Path) -> Iterator[Settings]:
    """Settings on a broker of the test's own: its consumer groups start with nothing else."""
    port = embedded.free_port()
    broker = embedded.start_broker(port)
    try:
        yield stack.settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{port}")
    finally:
        embedded.stop(broker)


async def ranked_here(client: httpx.AsyncClient, url: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    [line] = [ln for ln in text.splitlines() if ln.startswith("pspx_matching_needs_ranked_total ")]
    return float(line.split()[1])


async def post_need(client: httpx.AsyncClient, registry: str, n: int) -> str:
    details = {"title": f"Lunch club {n}", "description": "A lunch club for isolated older people"}
    body = {"commissioner_id": "GB-LAE-RPL", "details": details}
    response = await client.post(f"{registry}/needs", json=body)
    assert response.status_code == 201, response.text
    need_id: str = response.json()["id"]
    return need_id


def shortlists(records: list[tuple[bytes | None, Envelope]]) -> list[str]:
    return [e.aggregate_id for _, e in records if e.event_type == "matching.shortlist.ranked"]


async def test_matching_replicas_rank_each_need_once_and_take_over_a_killed_ones_share(
    own_broker: Settings, tmp_path: Path
) -> None:
    settings, logs = own_broker, tmp_path / "logs"
    council = {"id": "GB-LAE-RPL", "profile": {"name": "Ripley Council", "kind": "public_body"}}
    club = {
        "id": "GB-CHC-7000001",
        "profile": {"name": "Ripley Lunch Club", "kind": "charity", "description": "Lunch club"},
    }
    async with httpx.AsyncClient(timeout=30) as client:
        with (
            replica(settings, logs) as (registry, _),
            replica(settings, logs, "matching") as (first, first_proc),
            replica(settings, logs, "matching") as (second, _),
        ):
            for body in (council, club):
                response = await client.post(f"{registry}/organisations", json=body)
                assert response.status_code == 201
            # Once one need is ranked, both replicas are in the group.
            warm = await post_need(client, registry, 0)
            await read_topic(settings, topics.MATCHES, lambda rs: warm in shortlists(rs), 60)
            before = [await ranked_here(client, u) for u in (first, second)]

            needs = [await post_need(client, registry, n) for n in range(1, 9)]
            records = await read_topic(
                settings, topics.MATCHES, lambda rs: set(needs) <= set(shortlists(rs)), 60
            )
            after = [await ranked_here(client, u) for u in (first, second)]
            assert sum(after) - sum(before) == len(needs)  # each ranked by one replica only

            first_proc.kill()  # its partitions go to the other once the group notices
            first_proc.wait()
            later = [await post_need(client, registry, n) for n in range(9, 13)]
            records = await read_topic(
                settings,
                topics.MATCHES,
                lambda rs: {warm, *needs, *later} <= set(shortlists(rs)),
                90,
            )
    published = shortlists(records)
    assert sorted(published) == sorted({warm, *needs, *later})  # none lost, none twice
