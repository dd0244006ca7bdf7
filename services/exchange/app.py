"""Exchange service wiring: ``build(spec, settings)`` makes its ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from pspx.http import create_app
from pspx.runtime import Runtime
from pspx.settings import Settings
from pspx.spec import ServiceSpec
from services.exchange import handlers
from services.exchange.api import router
from services.exchange.matching_client import MatchingClient
from services.exchange.queries import ExchangeQueries
from services.exchange.service import Exchange
from services.exchange.store import ExchangeStore

# Far above the largest valid command (a 100 KB body, even JSON-escaped), so the
# field rules give the precise answer and this only stops abuse before parsing.
MAX_REQUEST_BYTES = 1024 * 1024


def build(
    spec: ServiceSpec, settings: Settings, *, matching: MatchingClient | None = None
) -> FastAPI:
    runtime = Runtime(spec, settings)
    store = ExchangeStore(runtime)
    client = matching or MatchingClient(settings.service_url("matching"))
    handlers.subscribe(runtime, store)  # before the lifespan starts the broker
    runtime_lifespan = runtime.lifespan(setup=store.ensure_indexes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            try:
                yield
            finally:
                await client.close()

    app = create_app(
        title="PSP Exchange innovation exchange",
        description=(
            "Good practice from the third sector, endorsements by commissioners and the "
            "dialogue between them; search and similar practices come from the matching "
            "service. Commands carry the acting organisation's id (the gateway authenticates "
            "and fills it in); moderation commands name the operator."
        ),
        lifespan=lifespan,
        ready=runtime.ready,
        max_request_bytes=MAX_REQUEST_BYTES,
    )

    edit_window = timedelta(seconds=settings.comment_edit_window_s)
    app.state.runtime = runtime
    app.state.exchange = Exchange(store, edit_window=edit_window)
    app.state.queries = ExchangeQueries(runtime.db, client, edit_window)
    app.include_router(router)
    return app
