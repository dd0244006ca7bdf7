"""GraphQL over HTTP against the running services: reads, commands, typed errors, batching."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gateway.auth import Role
from tests.integration.gateway.conftest import System, uid

pytestmark = pytest.mark.integration

SEARCH = """
query Search($text: String!, $first: Int!) {
  searchPartners(search: {text: $text}, first: $first) {
    rank partnerId score reasons { term weight }
    partner { orgId name kind }
  }
}"""

POST_NEED = """
mutation Post($title: String!, $text: String!) {
  postNeed(details: {title: $title, description: $text}) {
    __typename
    ... on Need { needId version commissionerId }
    ... on Problem { message }
    ... on InvalidInput { fields { field problem } }
  }
}"""


def wait_rankable(system: System, text: str, org_id: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = system.graphql(SEARCH, {"text": text, "first": 100})
        if any(r["partnerId"] == org_id for r in found["data"]["searchPartners"]):
            return
        time.sleep(0.2)
    raise AssertionError(f"{org_id} never ranked for {text!r}")


def test_anyone_searches_partners_and_sees_why_they_rank(system: System) -> None:
    wait_rankable(system, f"befriending {system.word}", system.partner)
    found = system.graphql(SEARCH, {"text": f"befriending {system.word}", "first": 5})
    top = found["data"]["searchPartners"][0]
    assert top["partnerId"] == system.partner
    assert top["partner"] == {"orgId": system.partner, "name": "Test Lunch Club", "kind": "CHARITY"}
    assert system.word in {r["term"] for r in top["reasons"]}


def test_needs_need_a_token(system: System) -> None:
    body = system.graphql("{ needs(first: 1) { edges { node { needId } } } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_token_that_does_not_verify_is_refused_with_the_reason(system: System) -> None:
    token = system.token(Role.COMMISSIONER)
    assert token is not None
    body = system.graphql("{ me { orgId } }", token=token[:-4] + "AAAA")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "signature" in body["errors"][0]["message"]


def test_a_role_that_does_not_fit_the_organisation_is_refused(system: System) -> None:
    token = system.token(Role.COMMISSIONER, system.partner)  # a charity is no commissioner
    body = system.graphql("{ me { orgId } }", token=token)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "public body" in body["errors"][0]["message"]


def test_a_commissioner_posts_a_need_for_its_own_organisation(system: System) -> None:
    body = system.graphql(
        POST_NEED,
        {"title": "Lunch clubs", "text": f"Lunch clubs {system.word}"},
        token=system.token(Role.COMMISSIONER),
    )
    need = body["data"]["postNeed"]
    assert need["__typename"] == "Need"
    assert need["commissionerId"] == system.commissioner


def test_invalid_input_names_the_field(system: System) -> None:
    body = system.graphql(
        POST_NEED, {"title": "x" * 201, "text": "ok"}, token=system.token(Role.COMMISSIONER)
    )
    result = body["data"]["postNeed"]
    assert result["__typename"] == "InvalidInput"
    assert [f["field"] for f in result["fields"]] == ["details.title"]


def test_a_stale_version_is_a_typed_error(system: System) -> None:
    token = system.token(Role.COMMISSIONER)
    need = system.graphql(POST_NEED, {"title": "Stale", "text": "text"}, token=token)
    need_id = need["data"]["postNeed"]["needId"]
    revise = """
    mutation R($id: String!) {
      reviseNeed(needId: $id, expectedVersion: 1, details: {title: "A", description: "B"}) {
        __typename ... on Need { version }
      }
    }"""
    first = system.graphql(revise, {"id": need_id}, token=token)
    assert first["data"]["reviseNeed"] == {"__typename": "Need", "version": 2}
    again = system.graphql(revise, {"id": need_id}, token=token)
    assert again["data"]["reviseNeed"]["__typename"] == "StaleVersion"


def test_a_refused_stage_move_is_a_typed_error(system: System) -> None:
    token = system.token(Role.COMMISSIONER)
    need = system.graphql(POST_NEED, {"title": "Moves", "text": "text"}, token=token)
    propose = """
    mutation P($need: String!, $partner: String!) {
      proposePartnership(needId: $need, partnerIds: [$partner]) {
        __typename ... on Partnership { partnershipId version stage }
      }
    }"""
    made = system.graphql(
        propose, {"need": need["data"]["postNeed"]["needId"], "partner": system.partner}, token
    )["data"]["proposePartnership"]
    assert made["stage"] == "PROPOSED"
    move = """
    mutation M($id: String!, $v: Int!) {
      movePartnership(partnershipId: $id, expectedVersion: $v, toStage: COMMISSIONED) {
        __typename ... on Refused { message field }
      }
    }"""
    body = system.graphql(move, {"id": made["partnershipId"], "v": made["version"]}, token)
    assert body["data"]["movePartnership"]["__typename"] == "Refused"


def registry_calls(system: System, route: str) -> float:
    text = httpx.get(f"{system.urls['registry']}/metrics", timeout=10).text
    prefix = f'pspx_http_requests_total{{method="GET",route="{route}",status="200"}} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_fifty_ranked_partners_with_profiles_cost_one_registry_call(system: System) -> None:
    word = f"tessellon{uid()}"
    batch: list[dict[str, Any]] = [
        {"id": f"GB-CHC-{uid()}", "profile": {"name": f"Club {n}", "kind": "charity",
                                               "description": f"Walking groups {word} {n}"}}
        for n in range(60)
    ]  # fmt: skip
    imported = httpx.post(f"{system.urls['registry']}/organisations/import", json=batch, timeout=30)
    assert imported.status_code == 200, imported.text
    wait_rankable(system, f"walking {word}", batch[-1]["id"])
    before = registry_calls(system, "/organisations")
    found = system.graphql(SEARCH, {"text": f"walking groups {word}", "first": 50})
    ranked = found["data"]["searchPartners"]
    assert len(ranked) == 50
    assert all(r["partner"]["orgId"] == r["partnerId"] for r in ranked)
    assert registry_calls(system, "/organisations") - before == 1


def test_a_search_by_size_finds_only_partners_of_that_size(system: System) -> None:
    word = f"fernwhistle{uid()}"
    batch: list[dict[str, Any]] = [
        {
            "id": f"GB-CHC-{uid()}",
            "profile": {
                "name": f"Club {staff}",
                "kind": "charity",
                "description": f"Walking groups {word}",
                "size": {"staff": staff, "volunteers": 10},
            },
        }
        for staff in (4, 25, 400, None)  # micro, small, large, no figure
    ]
    imported = httpx.post(f"{system.urls['registry']}/organisations/import", json=batch, timeout=30)
    assert imported.status_code == 200, imported.text
    for org in batch:
        wait_rankable(system, f"walking {word}", org["id"])
    by_size = """query S($text: String!, $sizes: [SizeBand!]!) {
      searchPartners(search: {text: $text, sizes: $sizes}) {
        partnerId matchedFilters { name values } partner { sizeBand size { staff } }
      }
    }"""
    found = system.graphql(by_size, {"text": f"walking {word}", "sizes": ["SMALL"]})
    assert found["data"]["searchPartners"] == [
        {
            "partnerId": batch[1]["id"],
            "matchedFilters": [{"name": "size", "values": ["small"]}],
            "partner": {"sizeBand": "SMALL", "size": {"staff": 25}},
        }
    ]
    either = system.graphql(by_size, {"text": f"walking {word}", "sizes": ["MICRO", "LARGE"]})
    assert {r["partner"]["sizeBand"] for r in either["data"]["searchPartners"]} == {
        "MICRO",
        "LARGE",
    }
    wrong = system.graphql(by_size, {"text": f"walking {word}", "sizes": ["HUGE"]})
    assert wrong["data"] is None and "SizeBand" in wrong["errors"][0]["message"]


def test_a_query_too_costly_is_refused_before_it_runs(system: System) -> None:
    query = """{ searchPartners(search: {text: "care"}, first: 100) {
        partner { similar(first: 100) { partner { similar(first: 100) { partnerId } } } } } }"""
    body = system.graphql(query)
    assert body["data"] is None
    assert "would cost" in body["errors"][0]["message"]


def test_a_page_larger_than_allowed_is_refused(system: System) -> None:
    body = system.graphql('{ searchPartners(search: {text: "care"}, first: 500) { partnerId } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_relay_connections_page_with_cursors_and_refetch_by_global_id(system: System) -> None:
    query = """query O($after: String) { organisations(first: 2, after: $after, kind: [CHARITY]) {
        edges { cursor node { id orgId } } pageInfo { hasNextPage endCursor } } }"""
    first = system.graphql(query)["data"]["organisations"]
    second = system.graphql(query, {"after": first["pageInfo"]["endCursor"]})["data"]
    ids = [e["node"]["orgId"] for e in first["edges"] + second["organisations"]["edges"]]
    assert len(ids) == 4 and len(set(ids)) == 4
    middle = system.graphql(query, {"after": first["edges"][0]["cursor"]})["data"]
    assert middle["organisations"]["edges"][0]["node"]["orgId"] == ids[1]
    node_id = first["edges"][0]["node"]["id"]
    refetched = system.graphql(
        "query N($id: ID!) { node(id: $id) { ... on Organisation { orgId } } }", {"id": node_id}
    )
    assert refetched["data"]["node"]["orgId"] == ids[0]


def test_an_operator_works_through_the_moderation_queue(system: System) -> None:
    partner, commissioner = system.token(Role.PARTNER), system.token(Role.COMMISSIONER)
    operator = system.token(Role.OPERATOR)
    draft = """mutation { draftPractice(publish: true, practice: {title: "Walk and talk",
        summary: "Weekly walks", body: "We walk."})
        { __typename ... on Practice { practiceId } } }"""
    deadline = time.monotonic() + 20
    # The exchange knows an organisation once the registry's event has reached it.
    while (drafted := system.graphql(draft, token=partner)["data"]["draftPractice"])[
        "__typename"
    ] == "NotFound" and time.monotonic() < deadline:
        time.sleep(0.2)
    practice_id = drafted["practiceId"]
    posted = system.graphql(
        'mutation C($p: String!) { postComment(practiceId: $p, body: "Buy now!")'
        " { ... on Comment { id commentId } } }",
        {"p": practice_id},
        token=commissioner,
    )["data"]["postComment"]
    flag = 'mutation F($c: String!) { flagComment(commentId: $c, reason: "spam") { __typename } }'
    assert system.graphql(flag, {"c": posted["commentId"]}, token=partner)["data"] == {
        "flagComment": {"__typename": "Comment"}
    }

    queue = """{ moderationQueue(first: 100) { edges { node {
        commentId body flags { orgId reason } practice { title } } } } }"""
    waiting = [
        e["node"] for e in system.graphql(queue, token=operator)["data"]["moderationQueue"]["edges"]
    ]
    ours = next(n for n in waiting if n["commentId"] == posted["commentId"])
    assert ours == {
        "commentId": posted["commentId"],
        "body": "Buy now!",
        "flags": [{"orgId": system.partner, "reason": "spam"}],
        "practice": {"title": "Walk and talk"},
    }
    # Anyone may refetch a comment on a published practice; only operators see who flagged it.
    refetch = (
        "query N($id: ID!) { node(id: $id) { ... on Comment { body flagCount flags { orgId } } } }"
    )
    seen = system.graphql(refetch, {"id": posted["id"]})["data"]["node"]
    assert seen == {"body": "Buy now!", "flagCount": 1, "flags": None}

    hide = 'mutation H($c: String!) { hideComment(commentId: $c, reason: "spam") { __typename } }'
    assert system.graphql(hide, {"c": posted["commentId"]}, token=operator)["data"] == {
        "hideComment": {"__typename": "Comment"}
    }
    after = system.graphql(queue, token=operator)["data"]["moderationQueue"]["edges"]
    assert posted["commentId"] not in {e["node"]["commentId"] for e in after}
    assert system.graphql(refetch, {"id": posted["id"]})["data"]["node"]["body"] is None


def test_a_partner_sees_the_needs_that_fit_it_with_reasons(system: System) -> None:
    wait_rankable(system, f"befriending {system.word}", system.partner)
    posted = system.graphql(
        POST_NEED,
        {"title": "Befriending", "text": f"Befriending {system.word} for isolated older people"},
        system.token(Role.COMMISSIONER),
    )["data"]["postNeed"]
    query = """query F($org: String) { needsThatFit(orgId: $org) {
        needId rank reasons { term } need { needId commissionerId } } }"""
    deadline = time.monotonic() + 20
    fits: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        body = system.graphql(query, token=system.token(Role.PARTNER))
        fits = [f for f in body["data"]["needsThatFit"] if f["needId"] == posted["needId"]]
        if fits:
            break
        time.sleep(0.2)
    assert fits, "the posted need never fitted the partner"
    [fit] = fits
    assert fit["rank"] == 1 and system.word in {r["term"] for r in fit["reasons"]}
    assert fit["need"] == {"needId": posted["needId"], "commissionerId": system.commissioner}
    # Another partner may not look at what fits this one; an operator may.
    other = system.token(Role.PARTNER, system.other_partner)
    refused = system.graphql(query, {"org": system.partner}, other)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    seen = system.graphql(query, {"org": system.partner}, system.token(Role.OPERATOR))
    assert posted["needId"] in {f["needId"] for f in seen["data"]["needsThatFit"]}


def test_metrics_name_each_operation_with_its_outcome(system: System) -> None:
    name = f"Probe{uid()}"
    system.graphql(f'query {name} {{ searchPartners(search: {{text: "care"}}) {{ rank }} }}')
    system.graphql(f"query {name}Fails {{ needs(first: 1) {{ edges {{ cursor }} }} }}")
    text = httpx.get(f"{system.urls['gateway']}/metrics", timeout=10).text
    ok = f'pspx_graphql_operation_seconds_count{{operation="{name}",outcome="ok",type="query"}} 1.0'
    failed = (
        f'pspx_graphql_operation_seconds_count{{operation="{name}Fails",outcome="error",'
        'type="query"} 1.0'
    )
    assert ok in text.splitlines() and failed in text.splitlines()


def test_a_need_matching_does_not_rank_has_an_empty_shortlist_not_an_error(
    system: System,
) -> None:
    token = system.token(Role.COMMISSIONER)
    posted = system.graphql(
        POST_NEED, {"title": "Closing soon", "text": "Garden maintenance"}, token
    )["data"]["postNeed"]
    closed = system.graphql(
        "mutation M($id: String!, $v: Int!) { moveNeed(needId: $id, expectedVersion: $v,"
        " status: CLOSED) { __typename } }",
        {"id": posted["needId"], "v": posted["version"]},
        token,
    )
    assert closed["data"]["moveNeed"]["__typename"] == "Need", closed
    matching = f"{system.urls['matching']}/needs/{posted['needId']}/partners"
    deadline = time.monotonic() + 20
    while httpx.get(matching, timeout=10).status_code != 404:  # matching has dropped it
        assert time.monotonic() < deadline, "matching never dropped the closed need"
        time.sleep(0.2)
    body = system.graphql(
        "query N($id: String!) { need(needId: $id) { partners { partnerId }"
        " consortium { suggested reason } } }",
        {"id": posted["needId"]},
        token,
    )
    assert "errors" not in body, body
    assert body["data"]["need"]["partners"] == []
    assert body["data"]["need"]["consortium"]["suggested"] is False
