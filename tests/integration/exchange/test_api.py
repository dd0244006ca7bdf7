"""The exchange's HTTP API: validation, listing, dialogue and search, over the real Mongo wire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from pspx import topics
from pspx.domain import utc_now
from services.exchange.domain import BODY_MAX_BYTES, TAGS_MAX, TITLE_MAX, Comment, Practice
from services.exchange.matching_client import MatchingClient
from stack.embedded import free_port
from stack.manifest import build
from tests.conftest import Stack, read_topic, serving
from tests.integration.exchange.conftest import (
    CHARITY,
    COUNCIL,
    HEALTH_BOARD,
    SOCIAL_ENTERPRISE,
    Services,
    exchange_and_registry,
    known,
    practice,
)

pytestmark = pytest.mark.integration


def problems(response: httpx.Response) -> dict[str, str]:
    return {f["field"]: f["problem"] for f in response.json()["fields"]}


async def test_bad_input_is_refused_field_by_field_and_writes_nothing(stack: Stack) -> None:
    async with exchange_and_registry(stack.settings()) as s:
        await s.register(CHARITY)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"title": "x" * (TITLE_MAX + 1)}, "title"),
            ({"body": "x" * (BODY_MAX_BYTES + 1)}, "body"),
            ({"tags": [f"t{i}" for i in range(TAGS_MAX + 1)]}, "tags"),
            ({"summary": ""}, "summary"),
            ({"evidence": {"people_served": -5}}, "evidence.people_served"),
            ({"unexpected": 1}, "unexpected"),
        ]
        for overrides, field in cases:
            response = await s.exchange.post(
                "/practices", json=practice(CHARITY["id"], **overrides)
            )
            assert response.status_code == 422, (field, response.text)
            assert response.json()["error"] == "invalid_input"
            assert field in problems(response), response.text
        body = problems(
            await s.exchange.post(
                "/practices", json=practice(CHARITY["id"], body="x" * (BODY_MAX_BYTES + 1))
            )
        )["body"]
        assert "100 KB" in body

        huge = await s.exchange.post(
            "/practices",
            content=b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 413

        assert await s.store.count(Practice) == 0
        assert await s.exchange_app.state.runtime.outbox.records.count_documents({}) == 0


async def post(s: Services, author: str, **overrides: Any) -> dict[str, Any]:
    response = await s.exchange.post("/practices", json=practice(author, **overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_listing_filters_sorts_and_pages(stack: Stack) -> None:
    async with exchange_and_registry(stack.settings()) as s:
        await s.register(CHARITY, SOCIAL_ENTERPRISE, COUNCIL, HEALTH_BOARD)
        a = await post(s, CHARITY["id"], title="A", service_area="Older people")
        b = await post(
            s,
            SOCIAL_ENTERPRISE["id"],
            title="B",
            regions=["Wales"],
            tags=["Food"],
            service_area="Food",
        )
        await post(s, CHARITY["id"], title="C", service_area="Youth")
        draft = await post(s, CHARITY["id"], title="D", publish=False)
        for endorser in (COUNCIL, HEALTH_BOARD):
            await s.exchange.post(
                f"/practices/{b['id']}/endorsements", json={"endorser_id": endorser["id"]}
            )
        await s.exchange.post(
            f"/practices/{a['id']}/endorsements", json={"endorser_id": COUNCIL["id"]}
        )

        async def titles(**params: Any) -> list[str]:
            response = await s.exchange.get("/practices", params=params)
            assert response.status_code == 200, response.text
            return [p["content"]["title"] for p in response.json()["items"]]

        assert await titles() == ["C", "B", "A"]
        assert await titles(sort="most_endorsed") == ["B", "A", "C"]
        assert await titles(service_area="Older people") == ["A"]
        assert await titles(region="Wales") == ["B"]
        assert await titles(tag="FOOD") == ["B"]
        assert await titles(author_id=CHARITY["id"]) == ["C", "A"]
        assert await titles(status="draft") == [draft["content"]["title"]]

        for sort in ("newest", "most_endorsed"):
            seen: list[str] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"sort": sort, "limit": 1}
                if cursor:
                    params["cursor"] = cursor
                page = (await s.exchange.get("/practices", params=params)).json()
                seen += [p["content"]["title"] for p in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == await titles(sort=sort)

        bad = await s.exchange.get("/practices", params={"cursor": "bm90IGpzb24="})
        assert bad.status_code == 422 and "cursor" in problems(bad)
        newest = (await s.exchange.get("/practices", params={"limit": 1})).json()["next_cursor"]
        other_order = await s.exchange.get(
            "/practices", params={"sort": "most_endorsed", "cursor": newest}
        )
        assert other_order.status_code == 422
        assert problems(other_order) == {"cursor": "not a cursor of the most_endorsed order"}
        by_id = await s.exchange.get("/practices", params={"id": [a["id"], b["id"], draft["id"]]})
        assert {p["id"] for p in by_id.json()["items"]} == {a["id"], b["id"]}  # drafts stay out
        assert (await s.exchange.get("/practices", params={"limit": 0})).status_code == 422


async def test_dialogue_threads_edits_within_the_window_flags_and_hides(stack: Stack) -> None:
    async with exchange_and_registry(stack.settings()) as s:
        await s.register(CHARITY, COUNCIL)
        gp = (await post(s, CHARITY["id"]))["id"]
        version = (await s.exchange.get(f"/practices/{gp}")).json()["version"]

        clock = [utc_now()]
        s.exchange_app.state.exchange.clock = lambda: clock[0]

        question = await s.exchange.post(
            f"/practices/{gp}/comments",
            json={"author_id": COUNCIL["id"], "body": "How did you recruit volunteers?"},
        )
        assert question.status_code == 201, question.text
        q = question.json()
        assert q["author_kind"] == "public_body"
        answer = await s.exchange.post(
            f"/practices/{gp}/comments",
            json={
                "author_id": CHARITY["id"],
                "body": "Through GP surgeries.",
                "parent_id": q["id"],
            },
        )
        assert answer.status_code == 201, answer.text
        practice_now = (await s.exchange.get(f"/practices/{gp}")).json()
        assert (practice_now["comment_count"], practice_now["version"]) == (2, version + 2)

        clock[0] += timedelta(minutes=14)
        edited = await s.exchange.patch(
            f"/comments/{q['id']}",
            json={
                "author_id": COUNCIL["id"],
                "expected_version": 1,
                "body": "How did you *recruit*?",
            },
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["body_html"] == "<p>How did you <em>recruit</em>?</p>\n"
        clock[0] += timedelta(minutes=2)
        late = await s.exchange.patch(
            f"/comments/{q['id']}",
            json={"author_id": COUNCIL["id"], "expected_version": 2, "body": "Too late"},
        )
        assert late.status_code == 422 and "body" in problems(late)

        flagged = await s.exchange.post(
            f"/comments/{answer.json()['id']}/flags",
            json={"org_id": COUNCIL["id"], "reason": "off topic"},
        )
        assert flagged.json()["flag_count"] == 1
        clock[0] += timedelta(minutes=1)
        await s.exchange.post(
            f"/comments/{q['id']}/flags", json={"org_id": CHARITY["id"], "reason": "unclear"}
        )
        queue = (await s.exchange.get("/moderation/queue", params={"limit": 1})).json()
        assert [(c["id"], [f["reason"] for f in c["flags"]]) for c in queue["items"]] == [
            (answer.json()["id"], ["off topic"])  # the longest waiting first
        ]
        rest = await s.exchange.get("/moderation/queue", params={"cursor": queue["next_cursor"]})
        assert [c["id"] for c in rest.json()["items"]] == [q["id"]]
        hidden = await s.exchange.post(
            f"/comments/{answer.json()['id']}/hide",
            json={"moderator": "operator-1", "reason": "off topic"},
        )
        assert hidden.status_code == 200, hidden.text

        queue = (await s.exchange.get("/moderation/queue")).json()
        assert [c["id"] for c in queue["items"]] == [q["id"]]  # a hidden one leaves the queue
        both = await s.exchange.get("/comments", params={"id": [answer.json()["id"], q["id"], "x"]})
        assert {c["id"]: c["flag_count"] for c in both.json()} == {
            answer.json()["id"]: 1,
            q["id"]: 1,
        }
        thread = (await s.exchange.get(f"/practices/{gp}/comments")).json()
        assert [(c["id"], c["parent_id"]) for c in thread] == [
            (q["id"], None),
            (answer.json()["id"], q["id"]),
        ]
        assert thread[0]["body"] == "How did you *recruit*?"
        assert thread[1]["body"] is None and thread[1]["body_html"] is None
        assert thread[1]["hidden"]["moderator"] == "operator-1"
        stored = await s.store.get(Comment, answer.json()["id"])
        assert stored is not None and stored.body == "Through GP surgeries."  # kept, not deleted

        # Every change to the dialogue is an event on the practice's own stream, in order.
        records = await read_topic(
            s.settings,
            topics.PRACTICES,
            lambda rs: sum(e.aggregate_id == gp for _, e in rs) >= 7,
        )
    ours = [e for _, e in records if e.aggregate_id == gp]
    assert [e.event_type for e in ours] == [
        "practice.published",
        "practice.commented",
        "practice.commented",
        "practice.comment_edited",
        "practice.comment_flagged",
        "practice.comment_flagged",
        "practice.comment_hidden",
    ]
    versions = [e.aggregate_version for e in ours]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    commented = ours[1].event().model_dump()
    assert (commented["author_name"], commented["number"], commented["excerpt"]) == (
        "Fife Council",
        1,
        "How did you recruit volunteers?",
    )
    assert ours[2].event().model_dump()["parent_id"] == q["id"]
    assert ours[3].event().model_dump()["excerpt"] == "How did you recruit?"
    assert ours[6].event().model_dump()["moderator"] == "operator-1"


async def test_search_keeps_matchings_ranking_and_shows_only_published_practice(
    stack: Stack,
) -> None:
    settings = stack.settings()
    ids: dict[str, str] = {}

    def matching(request: httpx.Request) -> httpx.Response:
        ranked = [ids["b"], "gp-unknown00000", ids["draft"], ids["a"]]
        results = [
            {"id": pid, "score": 1.0 / (i + 1), "terms": [{"term": "befriend", "weight": 0.5}]}
            for i, pid in enumerate(ranked)
        ]
        return httpx.Response(200, json={"results": results})

    client = MatchingClient("http://matching.test", transport=httpx.MockTransport(matching))
    exchange_app = build("exchange", settings, matching=client)
    async with serving(build("registry", settings)) as registry, serving(exchange_app) as exchange:
        assert (await registry.post("/organisations", json=CHARITY)).status_code == 201
        await known(exchange_app, CHARITY["id"])
        for name, publish in (("a", True), ("b", True), ("draft", False)):
            response = await exchange.post(
                "/practices", json=practice(CHARITY["id"], title=name, publish=publish)
            )
            ids[name] = response.json()["id"]

        found = await exchange.get("/practices/search", params={"q": "befriending"})
        assert found.status_code == 200, found.text
        results = found.json()["results"]
        assert [r["practice"]["id"] for r in results] == [ids["b"], ids["a"]]
        assert [r["score"] for r in results] == [1.0, 0.25]
        assert results[0]["terms"] == [{"term": "befriend", "weight": 0.5}]

        similar = await exchange.get(f"/practices/{ids['b']}/similar")
        assert [r["practice"]["id"] for r in similar.json()["results"]] == [ids["a"]]
        assert (await exchange.get("/practices/gp-nothing/similar")).status_code == 404
        assert (await exchange.get("/practices/search", params={"q": ""})).status_code == 422


async def test_search_answers_503_when_matching_is_unreachable(stack: Stack) -> None:
    settings = stack.settings(matching_url=f"http://127.0.0.1:{free_port()}")
    async with serving(build("exchange", settings)) as exchange:
        response = await exchange.get("/practices/search", params={"q": "befriending"})
    assert response.status_code == 503
    assert response.json()["error"] == "matching_unavailable"
    assert "matching service could not be reached" in response.json()["message"]
