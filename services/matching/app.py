"""Matching service wiring: ``build(spec, settings)`` makes its ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from pspx.http import create_app
from pspx.runtime import Runtime
from pspx.settings import Settings
from pspx.spec import ServiceSpec
from services.matching.api import router
from services.matching.handlers import Handlers
from services.matching.index import MatchingIndex
from services.matching.queries import MatchingQueries
from services.matching.store import MatchingStore


def build(spec: ServiceSpec, settings: Settings) -> FastAPI:
    runtime = Runtime(spec, settings)
    index = MatchingIndex(alert_score=settings.match_alert_score)
    handlers = Handlers(runtime, index, MatchingStore(runtime))
    queries = MatchingQueries(index, handlers.subscribe())

    async def start_background() -> None:
        runtime.background(handlers.refit_when_due, "refit")

    async def ready() -> dict[str, bool]:
        checks = await runtime.ready()
        checks["index_loaded"] = handlers.loaded.is_set()
        return checks

    app = create_app(
        title="PSP Exchange matching",
        description="Explainable TF-IDF ranking of partners and practices, fed by events.",
        lifespan=runtime.lifespan(setup=start_background),
        ready=ready,
    )
    app.state.runtime = runtime
    app.state.handlers = handlers
    app.state.queries = queries
    app.include_router(router)
    return app
