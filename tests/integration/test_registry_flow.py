"""The registry against the real broker and Mongo-wire server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from pspx import topics
from pspx.domain import utc_now
from pspx.events import Envelope
from pspx.events.registry import OrganisationProfile
from pspx.runtime import Runtime
from pspx.settings import Settings
from pspx.store import Change
from services.registry.domain import Organisation
from services.registry.store import RegistryStore
from stack import manifest
from stack.manifest import build
from tests.conftest import Stack, read_topic, serving

pytestmark = pytest.mark.integration

_COUNCIL = {
    "id": "GB-LAS-FIFE",
    "profile": {"name": "Fife Council", "kind": "public_body", "regions": ["Scotland"]},
}
_CHARITY = {
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


def _unique(org: dict[str, Any]) -> dict[str, Any]:
    """The broker is shared by the session: every test registers its own identifiers."""
    return {**org, "id": f"{org['id']}{uuid.uuid4().int % 10**6}"}


@pytest.fixture
def council() -> dict[str, Any]:
    return _unique(_COUNCIL)


@pytest.fixture
def charity() -> dict[str, Any]:
    return _unique(_CHARITY)


def of(
    records: list[tuple[bytes | None, Envelope]], aggregate_id: str
) -> list[tuple[bytes | None, Envelope]]:
    return [(k, e) for k, e in records if e.aggregate_id == aggregate_id]


async def test_registered_organisation_arrives_on_its_topic_keyed_and_enveloped(
    stack: Stack, charity: dict[str, Any]
) -> None:
    settings = stack.settings()
    async with serving(build("registry", settings)) as api:
        response = await api.post(
            "/organisations", json=charity, headers={"x-correlation-id": "cid-42"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["version"] == 1

        records = await read_topic(
            settings, topics.ORGANISATIONS, lambda rs: bool(of(rs, charity["id"]))
        )
    [(key, envelope)] = of(records, charity["id"])
    assert key == charity["id"].encode()
    assert envelope.event_type == "organisation.registered"
    assert envelope.source == "registry"
    assert envelope.correlation_id == "cid-42"
    assert envelope.aggregate_version == 1
    assert envelope.event().model_dump()["profile"]["name"] == "Fife Befriending Network"


async def test_an_event_survives_a_crash_between_write_and_publish(
    stack: Stack, charity: dict[str, Any]
) -> None:
    """The write commits with its outbox record; the process dies before any publish."""
    settings = stack.settings()
    dying = Runtime(manifest.REGISTRY, settings)  # never started: no relay, no broker
    profile = OrganisationProfile(**charity["profile"])
    await RegistryStore(dying).commit(
        [Change(*Organisation.register(charity["id"], profile, utc_now()), new=True)],
        correlation_id="before-crash",
    )
    await dying.mongo.close()
    assert await _topic_has(settings, charity["id"], timeout_s=1) == []  # nothing was published

    async with serving(build("registry", settings)) as api:  # the restarted service
        records = await read_topic(
            settings, topics.ORGANISATIONS, lambda rs: bool(of(rs, charity["id"]))
        )
        assert (await api.get(f"/organisations/{charity['id']}")).status_code == 200
    [(_, envelope)] = of(records, charity["id"])
    assert envelope.correlation_id == "before-crash"


async def _topic_has(settings: Settings, aggregate_id: str, timeout_s: float) -> list[Envelope]:
    records = await read_topic(
        settings, topics.ORGANISATIONS, lambda rs: bool(of(rs, aggregate_id)), timeout_s
    )
    return [e for _, e in of(records, aggregate_id)]


async def test_a_stale_update_is_refused_and_changes_nothing(
    stack: Stack, charity: dict[str, Any]
) -> None:
    settings = stack.settings()
    async with serving(build("registry", settings)) as api:
        assert (await api.post("/organisations", json=charity)).status_code == 201
        profile = {**charity["profile"], "description": "First edit"}
        first = await api.put(
            f"/organisations/{charity['id']}", json={"expected_version": 1, "profile": profile}
        )
        assert first.status_code == 200 and first.json()["version"] == 2
        stale = await api.put(
            f"/organisations/{charity['id']}",
            json={"expected_version": 1, "profile": {**profile, "description": "Lost edit"}},
        )
        assert stale.status_code == 409
        assert stale.json()["error"] == "stale_version"
        current = (await api.get(f"/organisations/{charity['id']}")).json()
    assert current["version"] == 2
    assert current["profile"]["description"] == "First edit"
    events = await _topic_has(settings, charity["id"], timeout_s=5)
    assert [e.aggregate_version for e in events if e.aggregate_id == charity["id"]][-1] == 2


async def test_bad_input_gets_field_errors_and_writes_nothing(
    stack: Stack, council: dict[str, Any]
) -> None:
    settings = stack.settings()
    async with serving(build("registry", settings)) as api:
        bad = {"id": "not an id", "profile": {"name": "", "kind": "government", "website": "ftp:x"}}
        response = await api.post("/organisations", json=bad)
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["fields"]}
        assert fields == {"id", "profile.name", "profile.kind", "profile.website"}

        assert (await api.post("/organisations", json=council)).status_code == 201
        need = {
            "commissioner_id": council["id"],
            "details": {"title": "T", "description": "D", "budget_min_gbp": 9, "budget_max_gbp": 1},
        }
        refused = await api.post("/needs", json=need)
        assert refused.status_code == 422
        assert refused.json()["fields"] == [
            {"field": "budget_min_gbp", "problem": "must not exceed budget_max_gbp"}
        ]
        runtime: Runtime = api._transport.app.state.runtime  # type: ignore[attr-defined]
        assert await runtime.db["needs"].count_documents({}) == 0
        assert await runtime.db["organisations"].count_documents({}) == 1
        assert await runtime.outbox.records.count_documents({}) == 1  # the council's event only


async def test_a_partnership_moves_through_its_stages_on_the_topic(
    stack: Stack, council: dict[str, Any], charity: dict[str, Any]
) -> None:
    settings = stack.settings()
    async with serving(build("registry", settings)) as api:
        for org in (council, charity):
            assert (await api.post("/organisations", json=org)).status_code == 201
        need = (
            await api.post(
                "/needs",
                json={
                    "commissioner_id": council["id"],
                    "details": {"title": "Befriending in Fife", "description": "Older people"},
                },
            )
        ).json()
        proposed = await api.post(
            "/partnerships",
            json={
                "need_id": need["id"],
                "partner_ids": [charity["id"]],
                "route_answers": {
                    "capable_providers": True,
                    "committed_commissioner": True,
                    "partnership_potential": True,
                },
            },
        )
        assert proposed.status_code == 201, proposed.text
        p = proposed.json()
        assert p["route_check"]["recommendation"] == "psp_co_planning"
        moved = await api.post(
            f"/partnerships/{p['id']}/stage",
            json={
                "expected_version": 1,
                "to_stage": "co-planning",
                "note": "first workshop booked",
            },
        )
        assert moved.json()["stage"] == "co-planning"
        illegal = await api.post(
            f"/partnerships/{p['id']}/stage",
            json={"expected_version": 2, "to_stage": "commissioned"},
        )
        assert illegal.status_code == 422
        assert "cannot move from co-planning to commissioned" in illegal.json()["message"]

        # Every further change is an event too: the route re-checked, the ledger, outcomes.
        rechecked = await api.post(
            f"/partnerships/{p['id']}/route-check",
            json={"expected_version": 2, "route_answers": {"both_contribute": True}},
        )
        assert rechecked.status_code == 200, rechecked.text
        line = {"party_id": council["id"], "form": "money", "description": "grant", "value_gbp": 9}
        added = await api.post(
            f"/partnerships/{p['id']}/contributions",
            json={"expected_version": 3, "contribution": line},
        )
        assert added.json()["ledger"]["parties"][0]["money_gbp"] == 9
        outcomes = await api.put(
            f"/partnerships/{p['id']}/outcomes",
            json={"expected_version": 4, "outcomes": {"people_served": 40}},
        )
        assert [r["metrics"]["people_served"] for r in outcomes.json()["outcome_history"]] == [40]
        unknown_field = await api.put(
            f"/partnerships/{p['id']}/outcomes",
            json={"expected_version": 5, "outcomes": {"people_helped": 40}},
        )
        assert unknown_field.status_code == 422
        assert unknown_field.json()["fields"][0]["field"] == "outcomes.people_helped"

        listed = await api.get("/partnerships", params={"id": [p["id"], "psp-none"]})
        assert [x["id"] for x in listed.json()["items"]] == [p["id"]]
        records = await read_topic(
            settings, topics.PARTNERSHIPS, lambda rs: len(of(rs, p["id"])) >= 5
        )
    events = [e for _, e in of(records, p["id"])]
    assert [(e.event_type, e.aggregate_version) for e in events] == [
        ("partnership.proposed", 1),
        ("partnership.stage_changed", 2),
        ("partnership.route_checked", 3),
        ("partnership.contribution_recorded", 4),
        ("partnership.outcomes_recorded", 5),
    ]
    # Each names its parties, so a reader can tell who may see it without asking.
    assert all(
        e.payload["commissioner_id"] == council["id"]
        and e.payload["partner_ids"] == [charity["id"]]
        for e in events
    )
    assert events[3].payload["value_gbp"] == 9


async def test_import_is_idempotent_and_names_are_searchable(
    stack: Stack, charity: dict[str, Any]
) -> None:
    settings = stack.settings()
    prefix = uuid.uuid4().int % 10**6
    rows: list[dict[str, Any]] = [
        {
            "id": f"GB-CHC-{prefix}{n}",
            "profile": {
                "name": f"Charity {n}",
                "kind": "charity",
                "former_names": [f"Old {prefix}{n}"],
            },
        }
        for n in range(1000, 1120)
    ]
    async with serving(build("registry", settings)) as api:
        first = (await api.post("/organisations/import", json=rows)).json()
        assert first == {"registered": 120, "updated": 0, "unchanged": 0}
        rows[0]["profile"]["name"] = "Renamed"
        again = (await api.post("/organisations/import", json=rows)).json()
        assert again == {"registered": 0, "updated": 1, "unchanged": 119}

        found = (await api.get("/organisations", params={"q": f"old {prefix}1000"})).json()
        assert [o["id"] for o in found["items"]] == [f"GB-CHC-{prefix}1000"]

        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            page = (await api.get("/organisations", params=params)).json()
            seen += [o["id"] for o in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(r["id"] for r in rows)
    records = await read_topic(
        settings,
        topics.ORGANISATIONS,
        lambda rs: len([1 for _, e in rs if e.aggregate_id.startswith(f"GB-CHC-{prefix}")]) >= 121,
    )
    ours = [e for _, e in records if e.aggregate_id in {r["id"] for r in rows}]
    # 120 registered + 1 updated: the unchanged rows published nothing (delivery is at
    # least once, so count distinct events)
    assert len({e.event_id for e in ours}) == 121


async def test_a_new_empty_broker_gets_the_history_back(
    mongo_port: int, charity: dict[str, Any]
) -> None:
    """The embedded broker forgets everything on restart; the outbox restores it."""
    from stack import embedded

    port = embedded.free_port()
    broker = embedded.start_broker(port)
    settings = Stack(port, mongo_port).settings()
    try:
        async with serving(build("registry", settings)) as api:
            assert (await api.post("/organisations", json=charity)).status_code == 201
            await read_topic(settings, topics.ORGANISATIONS, lambda rs: bool(of(rs, charity["id"])))
    finally:
        embedded.stop(broker)
    broker = embedded.start_broker(port)  # same address, nothing in it
    try:
        assert await _topic_has(settings, charity["id"], timeout_s=1) == []
        async with serving(build("registry", settings)):
            events = await _topic_has(settings, charity["id"], timeout_s=15)
        assert [e.event_type for e in events] == ["organisation.registered"]
    finally:
        embedded.stop(broker)


async def test_an_interrupted_replay_is_started_again(
    fresh_stack: Stack, charity: dict[str, Any]
) -> None:
    """A replay stopped half-way (a crash, a broker gone again) is not taken as done."""
    settings = fresh_stack.settings()
    async with serving(build("registry", settings)) as api:
        assert (await api.post("/organisations", json=charity)).status_code == 201
        await read_topic(settings, topics.ORGANISATIONS, lambda rs: bool(of(rs, charity["id"])))
        runtime: Runtime = api._transport.app.state.runtime  # type: ignore[attr-defined]
        await runtime.outbox.begin_replay(topics.ORGANISATIONS)  # and then the process died
    async with serving(build("registry", settings)) as api:
        runtime = api._transport.app.state.runtime  # type: ignore[attr-defined]
        await ready(api)  # the relay's first check of the broker is part of readiness
        records = await read_topic(
            settings, topics.ORGANISATIONS, lambda rs: len(of(rs, charity["id"])) >= 2
        )
        assert not await runtime.outbox.replaying(topics.ORGANISATIONS)
    # The history went out again: the same event, twice (consumers are idempotent).
    assert len({e.event_id for _, e in of(records, charity["id"])}) == 1


async def ready(api: httpx.AsyncClient, timeout_s: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await api.get("/readyz")).status_code != 200:
        assert asyncio.get_running_loop().time() < deadline, (await api.get("/readyz")).text
        await asyncio.sleep(0.1)
