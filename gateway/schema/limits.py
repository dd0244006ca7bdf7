"""What one query may ask for, and what each costs us.

Depth, aliases and tokens are limited by strawberry's own extensions; the cost
limit is ours: every field costs 1, and a field taking ``first`` costs its
selection ``first`` times over (a list of 50 ranked partners with their
profiles is 50 profiles), so a query that would fan out into thousands of
service calls is refused before it runs, with a message saying how much it
would cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from prometheus_client import Histogram
from strawberry.extensions import SchemaExtension

from gateway.rules import MAX_PAGE

MAX_COST = 5_000
MAX_DEPTH = 12
MAX_ALIASES = 20
MAX_TOKENS = 3_000
DEFAULT_FIRST = 20  # what a field taking ``first`` returns when not told

GRAPHQL_LATENCY = Histogram(
    "pspx_graphql_operation_seconds",
    "GraphQL operations by name, type and outcome",
    ["operation", "type", "outcome"],
)
# Clients choose operation names: past this many, new ones are counted as "other", so that
# no client can grow the metrics without end.
MAX_OPERATION_NAMES = 200
_named: set[str] = set()


def operation_label(name: str | None) -> str:
    if name is None:
        return "anonymous"
    if name in _named or len(_named) < MAX_OPERATION_NAMES:
        _named.add(name)
        return name
    return "other"


class CostLimit(SchemaExtension):
    """Refuses an operation that would cost more than ``MAX_COST``, counting ``first`` as the
    request's variables say. It runs with validation, after the (cached) document checks,
    because the variables differ from request to request where the document does not."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            variables = context.variables or {}
            for node in document.definitions:
                if not isinstance(node, OperationDefinitionNode):
                    continue
                cost = _cost(node.selection_set, fragments, variables, set())
                if cost > MAX_COST:
                    refused = GraphQLError(
                        f"the query would cost {cost}, more than the {MAX_COST} allowed: ask "
                        "for fewer items (first) or fewer nested lists",
                        node,
                    )
                    # A new list: the one there may be the validation cache's own.
                    context.pre_execution_errors = [*(context.pre_execution_errors or []), refused]
                    break
        yield


def _first(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != "first":
            continue
        if isinstance(arg.value, IntValueNode):
            return int(arg.value.value)
        if isinstance(arg.value, VariableNode):
            value = variables.get(arg.value.name.value)
            # Not sent: the operation's own default applies, which may be anything up to a page.
            return value if isinstance(value, int) and not isinstance(value, bool) else MAX_PAGE
    return None


def _cost(
    selection: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    visiting: set[str],
) -> int:
    if selection is None:
        return 0
    total = 0
    for node in selection.selections:
        if isinstance(node, FieldNode):
            inner = _cost(node.selection_set, fragments, variables, visiting)
            first = _first(node, variables)
            takes_first = first is not None or _paged(node)
            total += 1 + inner * (max(first or DEFAULT_FIRST, 1) if takes_first else 1)
        elif isinstance(node, InlineFragmentNode):
            total += _cost(node.selection_set, fragments, variables, visiting)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in visiting or name not in fragments:
                continue  # a cycle or an unknown fragment: other rules report those
            total += _cost(fragments[name].selection_set, fragments, variables, visiting | {name})
    return total


PAGED = {
    "organisations",
    "needs",
    "partnerships",
    "practices",
    "searchPartners",
    "searchPractices",
    "similar",
    "partners",
    "deliverers",
    "moderationQueue",
    "needsThatFit",
}


def _paged(node: FieldNode) -> bool:
    """A list field with a default page size: it costs that many even without ``first``."""
    return node.name.value in PAGED


class OperationMetrics(SchemaExtension):
    """Each operation's name, type and duration, for /metrics."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        result = context.result
        errors = getattr(result, "errors", None)
        kind = context.operation_type.value if context.operation_type else "unknown"
        GRAPHQL_LATENCY.labels(
            operation_label(context.operation_name), kind, "error" if errors else "ok"
        ).observe(time.perf_counter() - started)
