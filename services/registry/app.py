"""Registry service wiring: ``uvicorn services.registry.app:app``."""

from __future__ import annotations

from fastapi import FastAPI

from pspx import topics
from pspx.http import create_app
from pspx.runtime import Runtime
from pspx.settings import Settings, get_settings
from services.registry.api import router
from services.registry.service import Registry
from services.registry.store import RegistryStore

PRODUCES = (topics.ORGANISATIONS, topics.NEEDS, topics.PARTNERSHIPS)


def build(settings: Settings | None = None) -> FastAPI:
    runtime = Runtime("registry", settings or get_settings(), produces=PRODUCES)
    store = RegistryStore(runtime)
    app = create_app(
        title="PSP Exchange registry",
        description="Organisations, needs and partnerships (with the VSOPP/PSP route check).",
        lifespan=runtime.lifespan(setup=store.ensure_indexes),
        ready=runtime.ready,
    )
    app.state.registry = Registry(store)
    app.state.runtime = runtime
    app.include_router(router)
    return app


app = build()
