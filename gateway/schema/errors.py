"""Errors a client can branch on, and the masking of every other.

A mutation answers its result or one of the typed problems below (a union),
so that a client can tell a stale version from a refused stage move from a
field that is not valid. A query that the viewer may not run answers an error
whose ``extensions.code`` is ``UNAUTHENTICATED`` or ``FORBIDDEN``. Anything
unexpected is logged and shown as "Unexpected error." with no detail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from gateway.clients import Refused as ServiceRefused
from gateway.clients import Unavailable
from gateway.rules import BadArgument, Denied

log = logging.getLogger(__name__)

T = TypeVar("T")


@strawberry.interface(description="Why a command was not carried out")
class Problem:
    message: str


@strawberry.type(description="A field of the input, and what is wrong with it")
class FieldProblem:
    field: str = strawberry.field(description="The input field's path, e.g. details.budgetMinGbp")
    problem: str


@strawberry.type(description="The input is not valid: each field and its problem")
class InvalidInput(Problem):
    fields: list[FieldProblem]


@strawberry.type(
    description="A rule refused the change (a stage move that is not allowed, a closed need)"
)
class Refused(Problem):
    field: str | None


@strawberry.type(description="The record changed since the version the command was made from")
class StaleVersion(Problem):
    pass


@strawberry.type
class NotFound(Problem):
    pass


@strawberry.type
class AlreadyExists(Problem):
    pass


@strawberry.type(description="The signed-in user may not do this")
class NotAllowed(Problem):
    pass


Problems = InvalidInput | Refused | StaleVersion | NotFound | AlreadyExists | NotAllowed


def camel(path: str) -> str:
    """A service's field path (``details.budget_min_gbp``) as the schema names it."""

    def one(part: str) -> str:
        head, *rest = part.split("_")
        return head + "".join(w.capitalize() for w in rest)

    return ".".join(one(p) for p in path.split("."))


def problem(refused: ServiceRefused) -> Problems:
    if refused.code in {"invalid_input", "too_large"}:
        fields = [FieldProblem(field=camel(f.field), problem=f.problem) for f in refused.fields]
        return InvalidInput(message=refused.message, fields=fields)
    kinds: dict[str, type[StaleVersion | NotFound | AlreadyExists | NotAllowed]] = {
        "stale_version": StaleVersion,
        "not_found": NotFound,
        "already_exists": AlreadyExists,
        "forbidden": NotAllowed,
    }
    kind = kinds.get(refused.code)
    if kind is not None:
        return kind(message=refused.message)
    field = camel(refused.fields[0].field) if refused.fields else None
    return Refused(message=refused.message, field=field)


async def attempt(command: Callable[[], Awaitable[T]]) -> T | Problems:
    """Run a command; a refusal by a rule of ours or of a service becomes a typed problem."""
    try:
        return await command()
    except Denied as exc:
        return NotAllowed(message=exc.message)
    except ServiceRefused as exc:
        return problem(exc)


class PublicErrors(MaskErrors):
    """Keep errors about the query itself and our own refusals; mask everything else."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda _: True)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._public(e) for e in errors]

    def _public(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None:  # a syntax or validation error: about the query, not the server
            return error
        if isinstance(original, GraphQLError) and error.path is None:
            return error  # a variable that does not fit its type (an unknown enum value, say)
        if isinstance(original, Denied | BadArgument):
            message = original.message if isinstance(original, Denied) else str(original)
            return GraphQLError(
                message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": original.code},
            )
        if isinstance(original, Unavailable):  # logged by the client, with the service's name
            return GraphQLError(
                "a part of PSP Exchange is not answering; try again shortly",
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": "SERVICE_UNAVAILABLE"},
            )
        log.error(
            "unexpected error in a resolver",
            exc_info=original,
            extra={"fields": {"path": error.path}},
        )
        masked = self.anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked
