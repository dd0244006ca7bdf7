"""The pages ask the gateway's GraphQL schema, in this process, as the signed-in user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request

from gateway.schema import schema
from gateway.schema.context import Context
from gateway.web.pages.session import user


class SignInAgain(Exception):
    """The session's token no longer verifies (it expired, or the key changed)."""


class Unanswered(Exception):
    """The schema answered with errors a page cannot show as data."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors


async def ask(request: Request, document: str, **variables: Any) -> dict[str, Any]:
    signed_in = user(request)
    authorization = f"Bearer {signed_in.token}" if signed_in else None
    state = request.app.state
    context = Context(state.services, state.hub, authorization=authorization)
    context.request = request
    result = await schema.execute(document, variable_values=variables, context_value=context)
    if result.errors:
        errors: list[dict[str, Any]] = [dict(e.formatted) for e in result.errors]
        codes = {(e.get("extensions") or {}).get("code") for e in errors}
        if "UNAUTHENTICATED" in codes and signed_in is not None:
            raise SignInAgain(errors[0]["message"])
        raise Unanswered(errors)
    assert result.data is not None
    return result.data


# What every mutation a page sends asks of a typed problem: what ``problems_by_field`` reads.
PROBLEM = "__typename ... on Problem { message } ... on InvalidInput { fields { field problem } }"


def problems_by_field(
    answer: dict[str, Any], fields: Sequence[str], renamed: Mapping[str, str]
) -> dict[str, str]:
    """A mutation's typed problem as a form's errors: each field the service names (the last
    part of its path, in the form's own name) with its problem; a problem that names none,
    or no field of the form, at the form's first field."""
    first = fields[0]
    found: dict[str, str] = {}
    for problem in answer.get("fields") or [{"field": first, "problem": answer["message"]}]:
        name = str(problem["field"]).split(".")[-1]
        found.setdefault(renamed.get(name, name if name in fields else first), problem["problem"])
    return found
