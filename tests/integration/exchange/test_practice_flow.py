"""Practices from registry to exchange to topic, against the real broker and Mongo wire."""

from __future__ import annotations

import asyncio

import pytest

from pspx import topics
from pspx.events import Envelope
from services.exchange.domain import Practice
from tests.conftest import Stack, read_topic
from tests.integration.exchange.conftest import (
    CHARITY,
    COUNCIL,
    HEALTH_BOARD,
    exchange_and_registry,
    known,
    practice,
)

pytestmark = pytest.mark.integration


def of(
    records: list[tuple[bytes | None, Envelope]], aggregate_id: str
) -> list[tuple[bytes | None, Envelope]]:
    return [(k, e) for k, e in records if e.aggregate_id == aggregate_id]


async def test_a_registered_charity_publishes_and_the_event_is_keyed_by_practice(
    stack: Stack,
) -> None:
    settings = stack.settings()
    async with exchange_and_registry(settings) as s:
        await s.register(CHARITY)
        draft = await s.exchange.post(
            "/practices",
            json=practice(CHARITY["id"], publish=False),
            headers={"x-correlation-id": "cid-gp"},
        )
        assert draft.status_code == 201, draft.text
        body = draft.json()
        gp = body["id"]
        assert gp.startswith("gp-") and len(gp) == 15
        assert body["status"] == "draft"
        assert "<script>" not in body["body_html"]
        assert "&lt;script&gt;" in body["body_html"]  # shown as text, never run
        assert body["content"]["body"].endswith("<script>alert(1)</script>")  # source kept
        assert body["author"] == {
            "id": CHARITY["id"],
            "name": "Fife Befriending Network",
            "kind": "charity",
            "removed": False,
        }

        stale = await s.exchange.post(
            f"/practices/{gp}/publish", json={"author_id": CHARITY["id"], "expected_version": 7}
        )
        assert stale.status_code == 409 and stale.json()["error"] == "stale_version"

        published = await s.exchange.post(
            f"/practices/{gp}/publish",
            json={"author_id": CHARITY["id"], "expected_version": body["version"]},
            headers={"x-correlation-id": "cid-gp"},
        )
        assert published.status_code == 200, published.text
        assert published.json()["status"] == "published"

        records = await read_topic(settings, topics.PRACTICES, lambda rs: bool(of(rs, gp)))
    [(key, envelope)] = of(records, gp)
    assert key == gp.encode()
    assert envelope.event_type == "practice.published"
    assert envelope.source == "exchange"
    assert envelope.correlation_id == "cid-gp"
    assert envelope.aggregate_version == published.json()["version"]
    summary = envelope.event().model_dump()["practice"]
    assert summary["title"] == "Telephone befriending for isolated older people"
    assert summary["author_id"] == CHARITY["id"]
    assert summary["author_name"] == "Fife Befriending Network"
    assert summary["tags"] == ["loneliness", "volunteering"]


async def test_a_public_body_cannot_author_and_nothing_is_written(stack: Stack) -> None:
    async with exchange_and_registry(stack.settings()) as s:
        await s.register(COUNCIL)
        refused = await s.exchange.post("/practices", json=practice(COUNCIL["id"]))
        assert refused.status_code == 403, refused.text
        assert refused.json()["fields"][0]["field"] == "author_id"

        unknown = await s.exchange.post("/practices", json=practice("GB-CHC-999"))
        assert unknown.status_code == 404
        assert unknown.json()["fields"][0]["field"] == "author_id"

        assert await s.store.count(Practice) == 0
        assert await s.exchange_app.state.runtime.outbox.records.count_documents({}) == 0


async def test_a_commissioner_endorses_once_and_may_withdraw(stack: Stack) -> None:
    settings = stack.settings()
    async with exchange_and_registry(settings) as s:
        await s.register(CHARITY, COUNCIL, HEALTH_BOARD)
        gp = (await s.exchange.post("/practices", json=practice(CHARITY["id"]))).json()["id"]

        first = await s.exchange.post(
            f"/practices/{gp}/endorsements", json={"endorser_id": COUNCIL["id"]}
        )
        assert first.status_code == 201, first.text
        assert first.json()["endorsement_count"] == 1
        again = await s.exchange.post(
            f"/practices/{gp}/endorsements", json={"endorser_id": COUNCIL["id"]}
        )
        assert again.status_code == 409
        assert again.json()["fields"][0]["field"] == "endorser_id"
        by_charity = await s.exchange.post(
            f"/practices/{gp}/endorsements", json={"endorser_id": CHARITY["id"]}
        )
        assert by_charity.status_code == 403
        second = await s.exchange.post(
            f"/practices/{gp}/endorsements", json={"endorser_id": HEALTH_BOARD["id"]}
        )
        assert second.json()["endorsement_count"] == 2

        withdrawn = await s.exchange.delete(f"/practices/{gp}/endorsements/{COUNCIL['id']}")
        assert withdrawn.status_code == 200, withdrawn.text
        assert [e["endorser_id"] for e in withdrawn.json()["endorsements"]] == [HEALTH_BOARD["id"]]
        gone = await s.exchange.delete(f"/practices/{gp}/endorsements/{COUNCIL['id']}")
        assert gone.status_code == 404

        def endorsed(rs: list[tuple[bytes | None, Envelope]]) -> list[Envelope]:
            return [e for _, e in of(rs, gp) if e.event_type == "practice.endorsed"]

        records = await read_topic(settings, topics.PRACTICES, lambda rs: len(endorsed(rs)) >= 3)
    changes = [(e.payload["endorser_id"], e.payload["endorsed"]) for e in endorsed(records)]
    assert changes == [(COUNCIL["id"], True), (HEALTH_BOARD["id"], True), (COUNCIL["id"], False)]
    versions = [e.aggregate_version for _, e in of(records, gp)]
    assert versions == sorted(set(versions))  # strictly rising per practice


async def test_a_removed_organisations_practices_stay_readable_and_attributed(
    stack: Stack,
) -> None:
    async with exchange_and_registry(stack.settings()) as s:
        await s.register(CHARITY)
        gp = (await s.exchange.post("/practices", json=practice(CHARITY["id"]))).json()["id"]

        removed = await s.registry.delete(
            f"/organisations/{CHARITY['id']}", params={"expected_version": 1}
        )
        assert removed.status_code == 200, removed.text
        await known(s.exchange_app, CHARITY["id"], version=2)

        read = await s.exchange.get(f"/practices/{gp}")
        assert read.status_code == 200
        assert read.json()["status"] == "published"
        assert read.json()["author"] == {
            "id": CHARITY["id"],
            "name": "Fife Befriending Network",
            "kind": "charity",
            "removed": True,
        }
        listed = await s.exchange.get("/practices", params={"author_id": CHARITY["id"]})
        assert [p["id"] for p in listed.json()["items"]] == [gp]

        refused = await s.exchange.post("/practices", json=practice(CHARITY["id"]))
        assert refused.status_code == 403


async def test_revise_and_withdraw_reach_the_topic_and_leave_the_listing(stack: Stack) -> None:
    settings = stack.settings()
    async with exchange_and_registry(settings) as s:
        await s.register(CHARITY)
        posted = (await s.exchange.post("/practices", json=practice(CHARITY["id"]))).json()
        gp = posted["id"]
        revised = await s.exchange.put(
            f"/practices/{gp}",
            json={
                **practice(CHARITY["id"], summary="Now in Dundee too."),
                "expected_version": posted["version"],
            },
        )
        assert revised.status_code == 422  # "publish" belongs to drafting only
        body = practice(CHARITY["id"], summary="Now in Dundee too.")
        del body["publish"]
        revised = await s.exchange.put(
            f"/practices/{gp}", json={**body, "expected_version": posted["version"]}
        )
        assert revised.status_code == 200, revised.text
        again = await s.exchange.put(
            f"/practices/{gp}", json={**body, "expected_version": posted["version"]}
        )
        assert again.status_code == 409

        withdrawn = await s.exchange.post(
            f"/practices/{gp}/withdraw",
            json={"author_id": CHARITY["id"], "expected_version": revised.json()["version"]},
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert (await s.exchange.get("/practices")).json()["items"] == []
        assert (await s.exchange.get(f"/practices/{gp}")).json()["status"] == "withdrawn"

        records = await read_topic(settings, topics.PRACTICES, lambda rs: len(of(rs, gp)) >= 3)
    events = [e for _, e in of(records, gp)]
    assert [e.event_type for e in events] == [
        "practice.published",
        "practice.updated",
        "practice.withdrawn",
    ]
    assert events[1].payload["practice"]["summary"] == "Now in Dundee too."
    assert [e.aggregate_version for e in events] == [2, 3, 4]


async def test_concurrent_endorsements_all_count(stack: Stack) -> None:
    async with exchange_and_registry(stack.settings()) as s:
        await s.register(CHARITY, COUNCIL, HEALTH_BOARD)
        gp = (await s.exchange.post("/practices", json=practice(CHARITY["id"]))).json()["id"]
        answers = await asyncio.gather(
            *(
                s.exchange.post(f"/practices/{gp}/endorsements", json={"endorser_id": org["id"]})
                for org in (COUNCIL, HEALTH_BOARD)
            )
        )
        assert [a.status_code for a in answers] == [201, 201]
        stored = (await s.exchange.get(f"/practices/{gp}")).json()
        assert stored["endorsement_count"] == 2
        assert {e["endorser_id"] for e in stored["endorsements"]} == {
            COUNCIL["id"],
            HEALTH_BOARD["id"],
        }
