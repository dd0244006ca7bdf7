"""What every service's HTTP API shares: errors, health, readiness, metrics, correlation ids."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from pspx import logs
from pspx.errors import DomainError
from pspx.metrics import HTTP_LATENCY, HTTP_REQUESTS

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


def field_errors(errors: list[Any]) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field": "a.b", "problem": "..."}``.

    Only the leading request part (``body``, ``query``, ...) is dropped: a model
    may well have a field of its own called ``body``.
    """
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        out.append({"field": ".".join(loc) or "(body)", "problem": err.get("msg", "invalid")})
    return out


def create_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    ready: ReadyCheck,
) -> FastAPI:
    app = FastAPI(title=title, description=description, version="1", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_input", "fields": field_errors(list(exc.errors()))}, status_code=422
        )

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_input", "fields": field_errors(list(exc.errors()))}, status_code=422
        )

    @app.exception_handler(DomainError)
    async def _refused(_: Request, exc: DomainError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.code, "message": str(exc)}
        if exc.field:
            body["fields"] = [{"field": exc.field, "problem": str(exc)}]
        return JSONResponse(body, status_code=exc.status)

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        token = logs.correlation_id.set(
            request.headers.get("x-correlation-id") or logs.current_correlation_id()
        )
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            logs.correlation_id.reset(token)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database and broker reachable")
    async def readyz() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise DomainError("cursor: not a cursor this API issued") from exc
