"""The matching service against the real broker and Mongo wire, fed by the registry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from pspx import topics
from stack.manifest import build
from tests.conftest import Stack, read_topic, serving

pytestmark = pytest.mark.integration


def uid() -> str:
    return str(uuid.uuid4().int % 10**8)


def org(scheme: str, name: str, kind: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{scheme}-{uid()}",
        "profile": {"name": name, "kind": kind, "description": description, **extra},
    }


# Ranking waits for matching to join its consumer group: on the embedded broker a group's new
# member waits out the previous member's session (it does not act on a member leaving).
RANKED_WITHIN_S = 45


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = RANKED_WITHIN_S
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def ranked_ids(api: httpx.AsyncClient, text: str, **filters: Any) -> list[str]:
    response = await api.post("/rank", json={"description": text, **filters})
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["results"]]


async def loaded(api: httpx.AsyncClient) -> bool:
    return (await api.get("/readyz")).status_code == 200


async def test_partner_lifecycle_reaches_the_index(stack: Stack) -> None:
    settings = stack.settings()
    word = f"zorblax{uid()}"  # a term nobody else in the shared broker uses
    food = org(
        "GB-CHC", "Tower Food Bank", "charity", f"Emergency food parcels {word} and debt advice"
    )
    async with (
        serving(build("registry", settings)) as registry,
        serving(build("matching", settings)) as matching,
    ):
        await eventually(lambda: loaded(matching))
        assert (await registry.post("/organisations", json=food)).status_code == 201

        async def rankable() -> bool:
            return food["id"] in await ranked_ids(matching, f"{word} food parcels")

        await eventually(rankable)
        [top] = (
            await matching.post("/rank", json={"description": f"{word} food parcels", "limit": 1})
        ).json()["results"]
        assert top["id"] == food["id"]
        words = {t["term"] for t in top["terms"]}
        assert words <= {word, "food", "parcels"} and word in words

        gone = await registry.delete(f"/organisations/{food['id']}", params={"expected_version": 1})
        assert gone.status_code == 200

        async def removed() -> bool:
            return food["id"] not in await ranked_ids(matching, f"{word} food parcels")

        await eventually(removed)


async def test_need_posted_gets_a_shortlist_and_a_new_partner_an_alert(stack: Stack) -> None:
    settings = stack.settings(match_alert_score=0.05)
    word = f"quillon{uid()}"
    council = org("GB-LAE", "Leeds City Council", "public_body", "Commissions adult social care")
    first = org(
        "GB-CHC", "Befriend Leeds", "charity", f"Befriending {word} for isolated older people"
    )
    async with (
        serving(build("registry", settings)) as registry,
        serving(build("matching", settings)) as matching,
    ):
        await eventually(lambda: loaded(matching))
        for o in (council, first):
            assert (await registry.post("/organisations", json=o)).status_code == 201
        await eventually(lambda: _in_index(matching, first["id"], word))
        need = (
            await registry.post(
                "/needs",
                json={
                    "commissioner_id": council["id"],
                    "details": {
                        "title": f"Befriending {word}",
                        "description": "Isolated older people in Leeds",
                    },
                },
                headers={"x-correlation-id": f"post-need-{word}"},
            )
        ).json()
        records = await read_topic(
            settings,
            topics.MATCHES,
            lambda rs: any(
                e.event_type == "matching.shortlist.ranked" and e.aggregate_id == need["id"]
                for _, e in rs
            ),
            RANKED_WITHIN_S,
        )
        [shortlist] = [
            e
            for _, e in records
            if e.event_type == "matching.shortlist.ranked" and e.aggregate_id == need["id"]
        ]
        assert shortlist.payload["entries"][0]["partner_id"] == first["id"]
        # request -> need.posted -> matching's consumer -> its event: one correlation id
        assert shortlist.correlation_id == f"post-need-{word}"

        late = org(
            "GB-CHC",
            "Leeds Older People Forum",
            "charity",
            f"Befriending {word} older people at home",
        )
        assert (await registry.post("/organisations", json=late)).status_code == 201

        def found(rs: list[Any], partner: str, trigger: str) -> list[Any]:
            return [
                e
                for _, e in rs
                if e.event_type == "matching.match.found"
                and e.payload["partner_id"] == partner
                and e.payload["need_id"] == need["id"]
                and e.payload["trigger"] == trigger
            ]

        records = await read_topic(
            settings,
            topics.MATCHES,
            lambda rs: bool(found(rs, late["id"], "partner")),
            RANKED_WITHIN_S,
        )
        assert found(records, late["id"], "partner")
        assert found(records, first["id"], "need")  # the new need alerted the existing partner

        # Each partner on the shortlist sees the need among those that fit it, with its place.
        for partner in (first, late):
            fits = (await matching.get(f"/partners/{partner['id']}/needs")).json()["results"]
            [fit] = [f for f in fits if f["need_id"] == need["id"]]
            # Its reasons are the need's own words (which weigh most depends on what else the
            # shared index holds, so not which ones).
            need_words = {word, "befriending", "isolated", "older", "people", "leeds"}
            assert fit["rank"] in (1, 2)
            assert fit["terms"] and {t["term"] for t in fit["terms"]} <= need_words
        council_fits = await matching.get(f"/partners/{council['id']}/needs")
        assert council_fits.status_code == 404  # public bodies are not ranked as partners


async def _in_index(matching: httpx.AsyncClient, partner_id: str, word: str) -> bool:
    return partner_id in await ranked_ids(matching, word)


async def test_duplicates_change_nothing_and_a_restart_rebuilds_the_same_rankings(
    stack: Stack,
) -> None:
    settings = stack.settings()
    word = f"vellum{uid()}"
    charities = [
        org(
            "GB-CHC",
            f"Charity {n}",
            "charity",
            f"{word} " + " ".join(["youth", "mentoring", "sport", "music"][: n + 1]),
        )
        for n in range(4)
    ]
    query = f"{word} youth mentoring sport"
    async with serving(build("registry", settings)) as registry:
        for c in charities:
            assert (await registry.post("/organisations", json=c)).status_code == 201
        # duplicate delivery: the registry republishes its whole history
        from pspx.outbox import replay

        runtime = registry._transport.app.state.runtime  # type: ignore[attr-defined]
        async with serving(build("matching", settings)) as matching:
            await eventually(lambda: loaded(matching))
            await eventually(lambda: _in_index(matching, charities[-1]["id"], word))
            before = (await matching.post("/rank", json={"description": query})).json()["results"]
            await replay(runtime.outbox, runtime.bus, [topics.ORGANISATIONS])
            await asyncio.sleep(1)
            after_duplicates = (await matching.post("/rank", json={"description": query})).json()[
                "results"
            ]
        async with serving(build("matching", settings)) as matching:
            await eventually(lambda: loaded(matching))
            restarted = (await matching.post("/rank", json={"description": query})).json()[
                "results"
            ]
    ours = {c["id"] for c in charities}
    assert [r["id"] for r in before if r["id"] in ours] == [
        r["id"] for r in restarted if r["id"] in ours
    ]
    assert [round(r["score"], 5) for r in before if r["id"] in ours] == [
        round(r["score"], 5) for r in after_duplicates if r["id"] in ours
    ]
    assert len([r for r in restarted if r["id"] in ours]) == 4


async def test_a_poison_message_does_not_stop_the_index(stack: Stack) -> None:
    from aiokafka import AIOKafkaProducer

    settings = stack.settings()
    word = f"gorsewick{uid()}"
    charity = org("GB-CHC", "Heath Trust", "charity", f"{word} heathland volunteering")
    async with (
        serving(build("registry", settings)) as registry,
        serving(build("matching", settings)) as matching,
    ):
        await eventually(lambda: loaded(matching))
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.ORGANISATIONS, b'{"event_type": 42}', key=charity["id"].encode()
            )
        finally:
            await producer.stop()
        assert (await registry.post("/organisations", json=charity)).status_code == 201
        await eventually(lambda: _in_index(matching, charity["id"], word))


async def test_a_size_filter_keeps_only_partners_of_those_sizes(stack: Stack) -> None:
    settings = stack.settings()
    word = f"brackenfold{uid()}"
    text = f"{word} lunch club"
    small = org("GB-CHC", "Small Club", "charity", text, size={"staff": 12, "volunteers": 40})
    medium = org("GB-CHC", "Medium Club", "charity", text, size={"staff": 60})
    micro = org("GB-CHC", "Micro Club", "charity", text, size={"staff": 3})
    volunteers_only = org("GB-CHC", "Volunteer Club", "charity", text, size={"volunteers": 90})
    unsized = org("GB-CHC", "Quiet Club", "charity", text)
    ours = [small, medium, micro, volunteers_only, unsized]
    ids = {o["id"] for o in ours}

    async def ours_ranked(api: httpx.AsyncClient, **filters: Any) -> list[str]:
        # Only ours: the shared broker holds other tests' lunch clubs too.
        return [i for i in await ranked_ids(api, text, **filters) if i in ids]

    async with (
        serving(build("registry", settings)) as registry,
        serving(build("matching", settings)) as matching,
    ):
        await eventually(lambda: loaded(matching))
        for o in ours:
            assert (await registry.post("/organisations", json=o)).status_code == 201

        async def all_in() -> bool:
            return set(await ours_ranked(matching)) == ids

        await eventually(all_in)
        assert await ours_ranked(matching, sizes=["small"]) == [small["id"]]
        assert set(await ours_ranked(matching, sizes=["small", "medium"])) == {
            small["id"],
            medium["id"],
        }
        assert await ours_ranked(matching, sizes=["large"]) == []

        refused = await matching.post("/rank", json={"description": text, "sizes": ["huge"]})
        assert refused.status_code == 422
        assert [f["field"] for f in refused.json()["fields"]] == ["sizes.0"]

        council = org("GB-LAE", "Size Council", "public_body", "Commissions lunch clubs")
        assert (await registry.post("/organisations", json=council)).status_code == 201
        posted = await registry.post(
            "/needs",
            json={
                "commissioner_id": council["id"],
                "details": {"title": text, "description": text},
            },
        )
        shortlist = f"/needs/{posted.json()['id']}/partners"

        async def need_ranked() -> bool:
            return (await matching.get(shortlist)).status_code == 200

        await eventually(need_ranked)
        found = (await matching.get(shortlist, params={"size": ["medium", "micro"]})).json()
        assert {r["id"] for r in found["results"]} & ids == {medium["id"], micro["id"]}
        wrong = await matching.get(shortlist, params={"size": "huge"})
        assert wrong.status_code == 422
        assert [f["field"] for f in wrong.json()["fields"]] == ["size.0"]

        # A partner that takes on staff moves band as soon as its update is folded in.
        grown = {"expected_version": 1, "profile": {**small["profile"], "size": {"staff": 300}}}
        assert (await registry.put(f"/organisations/{small['id']}", json=grown)).status_code == 200

        async def moved() -> bool:
            return await ours_ranked(matching, sizes=["large"]) == [small["id"]]

        await eventually(moved)
        assert await ours_ranked(matching, sizes=["small"]) == []
