"""The gateway's GraphQL schema: queries, mutations and subscriptions, with their limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)

from gateway.schema.errors import PublicErrors
from gateway.schema.limits import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_TOKENS,
    CostLimit,
    OperationMetrics,
)
from gateway.schema.mutation import Mutation
from gateway.schema.practices import Comment, Practice
from gateway.schema.query import Query
from gateway.schema.subscription import Subscription
from gateway.schema.types import Need, Organisation, Partnership

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Organisation, Need, Partnership, Practice, Comment],
    extensions=[  # factories: each request gets extensions of its own
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules([CostLimit]),
        PublicErrors,
        OperationMetrics,
    ],
)


def sdl() -> str:
    """The schema in SDL, as ``docs/schema.graphql`` keeps it."""
    return schema.as_str() + "\n"
