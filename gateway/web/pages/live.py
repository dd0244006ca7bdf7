"""Live updates for pages, as Server-Sent Events: the page's script listens, and when
something changed it fetches the page again and swaps in the part that shows it.

Events come from the gateway's own GraphQL subscriptions, run as the signed-in user, so a
page hears only of what its reader may see. An EventSource sends the session cookie on its
own and, being a GET whose answer another site cannot read, needs no CSRF token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from graphql import ExecutionResult
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.schema import schema
from gateway.schema.context import Context
from gateway.web.pages.session import user

KEEPALIVE_S = 15.0  # a comment line this often, so that idle proxies keep the stream open


def since(request: Request) -> str:
    """The cursor a page rendered now gives its live updates, so they miss nothing that
    happens while the page loads."""
    cursor: str = request.app.state.hub.cursor()
    return cursor


def after(request: Request) -> str | None:
    return request.query_params.get("after") or None


async def stream(request: Request, document: str, **variables: Any) -> Response:
    signed_in = user(request)
    if signed_in is None:
        return Response("sign in to follow this page", status_code=401)
    state = request.app.state
    context = Context(state.services, state.hub, authorization=f"Bearer {signed_in.token}")
    context.request = request
    result = await schema.subscribe(document, variable_values=variables, context_value=context)
    if isinstance(result, ExecutionResult):  # refused before it started
        return Response("this page has no live updates for you", status_code=403)
    return StreamingResponse(
        _events(result),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(results: AsyncIterator[Any]) -> AsyncGenerator[str, None]:
    yield ": connected\n\n"
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(results))
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            if not done:
                yield ": still here\n\n"
                continue
            item, pending = pending.result(), None
            if item.errors:
                return
            yield f"event: changed\ndata: {json.dumps(item.data, default=str)}\n\n"
    except StopAsyncIteration:
        return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(results, "aclose", None)
        if aclose is not None:
            await aclose()
