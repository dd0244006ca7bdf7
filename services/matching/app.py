"""Matching service wiring: ``uvicorn services.matching.app:app``."""

from __future__ import annotations

from fastapi import FastAPI

from pspx import topics
from pspx.http import create_app
from pspx.runtime import Runtime
from pspx.settings import Settings, get_settings
from services.matching.api import router
from services.matching.handlers import Handlers
from services.matching.index import MatchingIndex
from services.matching.store import MatchingStore


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime("matching", settings, produces=(topics.MATCHES,))
    index = MatchingIndex(alert_score=settings.match_alert_score)
    handlers = Handlers(runtime, index, MatchingStore(runtime))
    handlers.subscribe()

    async def start_background() -> None:
        runtime.background(handlers.load, "load")
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
    app.state.index = index
    app.state.handlers = handlers
    app.state.runtime = runtime
    app.include_router(router)
    return app


app = build()
