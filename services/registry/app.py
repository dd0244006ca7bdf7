"""Registry service wiring: ``build(spec, settings)`` makes its ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from pspx.http import create_app
from pspx.runtime import Runtime
from pspx.settings import Settings
from pspx.spec import ServiceSpec
from services.registry.api import router
from services.registry.queries import RegistryQueries
from services.registry.service import Registry
from services.registry.store import RegistryStore


def build(spec: ServiceSpec, settings: Settings) -> FastAPI:
    runtime = Runtime(spec, settings)
    store = RegistryStore(runtime)
    app = create_app(
        title="PSP Exchange registry",
        description="Organisations, needs and partnerships (with the VSOPP/PSP route check).",
        lifespan=runtime.lifespan(setup=store.ensure_indexes),
        ready=runtime.ready,
    )
    app.state.runtime = runtime
    app.state.registry = Registry(store)
    app.state.queries = RegistryQueries(runtime.db)
    app.include_router(router)
    return app
