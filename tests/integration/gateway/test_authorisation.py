"""Who may do what: each role, and no token, against each command and each private query."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.auth import Role
from tests.integration.gateway.conftest import System

pytestmark = pytest.mark.integration

C, P, OP = Role.COMMISSIONER, Role.PARTNER, Role.OPERATOR
ANYONE_SIGNED_IN: set[Role | None] = {C, P, OP}

# operation, variables, the roles it admits. A refusal is NotAllowed from a mutation or an
# UNAUTHENTICATED/FORBIDDEN error from a query; anything else (the record, or a service's own
# answer such as NotFound or InvalidInput) means the gateway let the request through.
CASES: list[tuple[str, str, set[Role | None]]] = [
    (
        "postNeed",
        'mutation { postNeed(details: {title: "T", description: "D"}) { __typename } }',
        {C},
    ),
    (
        "registerOrganisation",
        'mutation { registerOrganisation(orgId: "bad id", profile: {name: "N", kind: CHARITY})'
        " { __typename } }",
        {OP},
    ),
    (
        "updateOrganisation (the commissioner's own)",
        'mutation { updateOrganisation(orgId: "$commissioner", expectedVersion: 999,'
        ' profile: {name: "N", kind: PUBLIC_BODY}) { __typename } }',
        {C},
    ),
    (
        "draftPractice",
        'mutation { draftPractice(practice: {title: "", summary: "", body: ""}) { __typename } }',
        {P},
    ),
    ("endorsePractice", 'mutation { endorsePractice(practiceId: "none") { __typename } }', {C}),
    (
        "flagComment",
        'mutation { flagComment(commentId: "none", reason: "r") { __typename } }',
        ANYONE_SIGNED_IN,
    ),
    (
        "hideComment",
        'mutation { hideComment(commentId: "none", reason: "r") { __typename } }',
        {OP},
    ),
    ("needs", "{ needs(first: 1) { edges { cursor } } }", ANYONE_SIGNED_IN),
    ("partnerships", "{ partnerships(first: 1) { edges { cursor } } }", ANYONE_SIGNED_IN),
    ("a need's shortlist", '{ need(needId: "$need") { partners(first: 1) { rank } } }', {C, OP}),
    ("a need's consortium", '{ need(needId: "$need") { consortium { suggested } } }', {C, OP}),
    ("needsThatFit", "{ needsThatFit { needId } }", {P, OP}),
    ("moderationQueue", "{ moderationQueue(first: 1) { edges { cursor } } }", {OP}),
    ("me", "{ me { orgId } }", {None, C, P, OP}),
    ("searchPartners", '{ searchPartners(search: {text: "care"}) { rank } }', {None, C, P, OP}),
]


def refused(body: dict[str, Any]) -> bool:
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
    if codes & {"UNAUTHENTICATED", "FORBIDDEN"}:
        return True
    data = body.get("data") or {}
    return any(isinstance(v, dict) and v.get("__typename") == "NotAllowed" for v in data.values())


@pytest.fixture(scope="module")
def need_id(system: System) -> str:
    body = system.graphql(
        'mutation { postNeed(details: {title: "Matrix", description: "Lunch clubs"})'
        " { ... on Need { needId } } }",
        token=system.token(C),
    )
    return str(body["data"]["postNeed"]["needId"])


@pytest.mark.parametrize(
    "role", [None, C, P, OP], ids=["no token", "commissioner", "partner", "operator"]
)
@pytest.mark.parametrize(("name", "query", "admitted"), CASES, ids=[c[0] for c in CASES])
def test_the_authorisation_matrix(
    system: System,
    need_id: str,
    role: Role | None,
    name: str,
    query: str,
    admitted: set[Role | None],
) -> None:
    query = query.replace("$commissioner", system.commissioner).replace("$need", need_id)
    body = system.graphql(query, token=system.token(role))
    assert refused(body) == (role not in admitted), body
