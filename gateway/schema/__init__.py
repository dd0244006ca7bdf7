"""The gateway's GraphQL schema: queries, mutations and subscriptions, with their limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
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

# Clients send the same few documents again and again: each is parsed and checked once. The
# rule classes are made once, so that the validation cache (keyed on them) finds its entries.
CACHED_DOCUMENTS = 512
DOCUMENT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Organisation, Need, Partnership, Practice, Comment],
    extensions=[  # factories: each request gets extensions of its own
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(DOCUMENT_RULES),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        CostLimit,  # after the cache: it reads the variables, which the cache does not key on
        PublicErrors,
        OperationMetrics,
    ],
)


def sdl() -> str:
    """The schema in SDL, as ``docs/schema.graphql`` keeps it."""
    return schema.as_str() + "\n"
