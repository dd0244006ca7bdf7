"""Gateway wiring: ``build(spec, settings)`` makes its ASGI app.

The one public entry: GraphQL at /graphql (queries, mutations, and
subscriptions over graphql-transport-ws, with GraphiQL served from installed
files), /healthz, /readyz and /metrics like every service. It owns no data:
commands and reads go over HTTP to the services; live alerts come from
following the alert topics (``gateway.live``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response, WebSocket
from fastapi.responses import HTMLResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway import auth, live
from gateway.clients import ExchangeClient, MatchingClient, RegistryClient
from gateway.schema import schema
from gateway.schema.context import Context, Services
from gateway.web.graphiql import graphiql_html, static_files
from gateway.web.pages import site
from pspx import logs
from pspx.http import create_app
from pspx.settings import Settings
from pspx.spec import ServiceSpec

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 256 * 1024  # far above any query or command; stops abuse before parsing
RETRY_MAX_S = 10.0


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's plain ASGI app on a route of its own: FastAPI's router would add its
    dependency solving to every operation (about a millisecond of CPU on our machines)."""

    def __init__(self, services: Services, hub: live.Hub) -> None:
        super().__init__(
            schema,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            multipart_uploads_enabled=False,
        )
        self.services = services
        self.hub = hub

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        context = Context(self.services, self.hub)
        context.request = request
        if isinstance(response, Response):  # over a WebSocket there is none
            context.response = response
        return context

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html(graphql_path="/graphql", static_prefix="/static"))


def services_from(settings: Settings) -> Services:
    return Services(
        registry=RegistryClient(settings.service_url("registry")),
        exchange=ExchangeClient(settings.service_url("exchange")),
        matching=MatchingClient(settings.service_url("matching")),
        verifier=auth.verifier(settings),
    )


def build(spec: ServiceSpec, settings: Settings, *, services: Services | None = None) -> FastAPI:
    wired = services or services_from(settings)
    hub = live.Hub(settings.live_window_s)
    follower = live.follower(settings, spec.subscription("live"), hub)

    async def follow() -> None:
        """Follow the alert topics, starting again (from the latest offset) if the broker
        goes away."""
        delay = 0.5
        while True:
            try:
                await follower.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "could not follow the alert topics; trying again",
                    extra={"fields": {"error": repr(exc), "in_s": delay}},
                )
                follower.caught_up.clear()
                await asyncio.sleep(delay)
                delay = min(2 * delay, RETRY_MAX_S)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logs.configure(spec.name, settings.log_level)
        task = asyncio.create_task(follow(), name="gateway.live")
        log.info("service started", extra={"fields": {"service": spec.name}})
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await wired.close()

    async def ready() -> dict[str, bool]:
        return {"live": follower.caught_up.is_set()}

    app = create_app(
        title="PSP Exchange gateway",
        description="The public entry: GraphQL at /graphql for commissioners, partners and "
        "operators, with sign-in, authorisation and live subscriptions.",
        lifespan=lifespan,
        ready=ready,
        max_request_bytes=MAX_REQUEST_BYTES,
    )

    # Documented as GraphQL SDL (docs/schema.graphql), not in the OpenAPI document.
    graphql = GraphQLEndpoint(wired, hub)
    app.router.routes += [
        Route("/graphql", graphql, methods=["GET", "POST"], include_in_schema=False),
        WebSocketRoute("/graphql", graphql),
    ]
    app.mount("/static", static_files(), name="static")
    app.mount("/", site(wired, hub, settings))  # the web front end: every path not above
    app.state.hub = hub
    return app
