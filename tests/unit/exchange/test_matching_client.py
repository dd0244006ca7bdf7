"""The matching client against a stand-in matching service (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from pspx.http import status_of
from services.exchange.matching_client import MatchingClient, MatchingUnavailable

ANSWER = {
    "results": [
        {"id": "gp-b", "score": 0.42, "terms": [{"term": "befriend", "weight": 0.3}]},
        {"id": "gp-a", "score": 0.17, "terms": [], "explained": "ignored extra field"},
    ]
}


def client(answer: Callable[[httpx.Request], httpx.Response]) -> MatchingClient:
    return MatchingClient("http://matching.test", transport=httpx.MockTransport(answer))


async def test_search_sends_the_query_and_filters_and_keeps_the_ranking() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    matching = client(answer)
    hits = await matching.search("befriending", region="Scotland", service_area=None, limit=7)
    await matching.close()

    [request] = seen
    assert request.url.path == "/practices/search"
    assert dict(request.url.params) == {"q": "befriending", "region": "Scotland", "limit": "7"}
    assert [(h.id, h.score) for h in hits] == [("gp-b", 0.42), ("gp-a", 0.17)]
    assert hits[0].terms[0].term == "befriend"


async def test_similar_asks_for_the_practice_and_treats_unknown_as_none() -> None:
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if "gp-new" in request.url.path:
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(200, json=ANSWER)

    matching = client(answer)
    assert [h.id for h in await matching.similar("gp-a", limit=3)] == ["gp-b", "gp-a"]
    assert await matching.similar("gp-new", limit=3) == []
    assert paths == ["/practices/gp-a/similar", "/practices/gp-new/similar"]


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    "answer",
    [
        refuse,
        time_out,
        lambda _: httpx.Response(500, text="Internal Server Error"),
        lambda _: httpx.Response(404, json={"error": "not_found"}),  # no search route at all
        lambda _: httpx.Response(200, text="<html>a proxy page</html>"),
        lambda _: httpx.Response(200, content=json.dumps({"results": [{"id": 1}]})),
    ],
)
async def test_an_unreachable_or_confused_matching_service_is_a_clear_503(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    with pytest.raises(MatchingUnavailable) as refused:
        await client(answer).search("x", region=None, service_area=None, limit=5)
    assert status_of(refused.value) == 503
    assert "matching service" in str(refused.value)
