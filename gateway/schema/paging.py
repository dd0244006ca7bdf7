"""Relay connections over the services' keyset pages.

A service pages with an opaque cursor of its own and a limit. An edge's
cursor here is that page's starting cursor and how many items of it come
before the edge, so a client may continue after any edge, not only after the
last; the last edge carries the service's next cursor itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from strawberry import relay

from gateway.rules import BadArgument, page_size
from gateway.schema.context import Json

T = TypeVar("T", bound=relay.Node)
Fetch = Callable[[str | None, int], Awaitable[Json]]


def encode(service_cursor: str | None, skip: int) -> str:
    data = json.dumps({"c": service_cursor, "s": skip}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode()


def decode(after: str | None) -> tuple[str | None, int]:
    if after is None:
        return None, 0
    try:
        data = json.loads(base64.urlsafe_b64decode(after.encode()))
        cursor, skip = data["c"], data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadArgument("after is not a cursor this API issued") from exc
    if not (cursor is None or isinstance(cursor, str)) or not isinstance(skip, int) or skip < 0:
        raise BadArgument("after is not a cursor this API issued")
    return cursor, skip


async def connection(
    fetch: Fetch, first: int, after: str | None, node: Callable[[Json], T], *, cap: int
) -> relay.Connection[T]:
    """A page of ``first`` nodes after the edge ``after``; ``cap`` is the service's page limit."""
    want = page_size(first)
    start, skip = decode(after)
    page = await fetch(start, min(skip + want, cap))
    items = page["items"][skip : skip + want]
    following = page["items"][skip + want :]
    has_next = bool(following) or page["next_cursor"] is not None
    edges = [
        relay.Edge(cursor=encode(start, skip + n + 1), node=node(item))
        for n, item in enumerate(items)
    ]
    if edges and not following and page["next_cursor"] is not None:
        edges[-1] = relay.Edge(cursor=encode(page["next_cursor"], 0), node=edges[-1].node)
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=skip > 0 or start is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
