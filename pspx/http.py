"""What every service's HTTP API shares: errors, health, readiness, metrics, correlation ids,
and API docs that work with no network.

Every error answers one shape, ``ErrorOut``: a stable ``error`` code, a
``message`` in words and, for bad input, the ``fields`` at fault. Domain errors
carry no HTTP status; ``STATUS`` chooses it here, at the edge. Routes document
the errors they can answer with ``errors(...)``, so the OpenAPI document lists
every status a client can meet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from pymongo.errors import ConnectionFailure
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pspx import logs
from pspx.errors import AlreadyExists, DomainError, Forbidden, NotFound, StaleVersion, Unavailable
from pspx.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]

STATUS: dict[type[DomainError], int] = {
    Forbidden: 403,
    NotFound: 404,
    AlreadyExists: 409,
    StaleVersion: 409,
    Unavailable: 503,
}
REQUEST_PARTS = ("body", "query", "path", "header", "cookie")


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the field at fault, or (body) for the whole")
    problem: str


class ErrorOut(BaseModel):
    error: str = Field(
        description="A stable code to branch on: invalid_input, rule_violated, not_found, "
        "forbidden, already_exists, stale_version, too_large, unavailable, method_not_allowed"
    )
    message: str = Field(description="What went wrong, in words")
    fields: list[FieldProblem] = Field(
        default_factory=list, description="For bad input: each field at fault and why"
    )


class ReadyOut(BaseModel):
    status: str = Field(description="ready or not_ready")
    checks: dict[str, bool]


ERROR_DESCRIPTIONS = {
    403: "The acting organisation may not do this",
    404: "It does not exist",
    409: "A stale version (reload and try again), or it exists already",
    413: "The request is too large",
    422: "Bad input, or a rule refused the change; `fields` names where",
    503: "Something this service depends on could not answer; try again shortly",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer."""
    return {s: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


def status_of(exc: DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 422


def field_errors(errors: list[Any]) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field": "a.b", "problem": "..."}``.

    Only the leading request part (``body``, ``query``, ...) is dropped: a model
    may well have a field of its own called ``body``.
    """
    out = []
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            out.append({"field": "(body)", "problem": f"not valid JSON: {reason}".rstrip(": ")})
            continue
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in REQUEST_PARTS:
            loc = loc[1:]
        out.append({"field": ".".join(loc) or "(body)", "problem": err.get("msg", "invalid")})
    return out


def error(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> JSONResponse:
    body = ErrorOut(error=code, message=message, fields=[FieldProblem(**f) for f in fields or []])
    return JSONResponse(body.model_dump(), status_code=status)


def invalid(fields: list[dict[str, str]]) -> JSONResponse:
    return error(422, "invalid_input", "the request is not valid: see fields", fields)


def create_app(
    *,
    title: str,
    description: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    ready: ReadyCheck,
    max_request_bytes: int | None = None,
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served below from installed files, not a CDN
        redoc_url=None,
    )
    _handle_errors(app)
    app.add_middleware(Edge, max_request_bytes=max_request_bytes)
    _offline_docs(app)
    _operations(app, ready)
    return app


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid(field_errors(list(exc.errors())))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        return invalid(field_errors(list(exc.errors())))

    @app.exception_handler(DomainError)
    async def _refused(_: Request, exc: DomainError) -> JSONResponse:
        fields = [{"field": exc.field, "problem": str(exc)}] if exc.field else None
        return error(status_of(exc), exc.code, str(exc), fields)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body FastAPI could not parse (not UTF-8, say)
            return invalid([{"field": "(body)", "problem": f"not valid JSON: {exc.detail}"}])
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(ConnectionFailure)
    async def _database_down(_: Request, exc: ConnectionFailure) -> JSONResponse:
        return error(503, "unavailable", "the database could not be reached; try again shortly")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The log has the details under this correlation id; the client gets none of them.
        correlation_id = getattr(request.state, "correlation_id", "")
        token = logs.correlation_id.set(correlation_id or None)
        try:
            log.error("unexpected error answering a request", exc_info=exc)
        finally:
            logs.correlation_id.reset(token)
        return error(
            500, "internal", f"something went wrong; quote correlation id {correlation_id}"
        )


class Edge:
    """Every request's way in: its correlation id (given or new) for the logs and the answer,
    its latency and count by route, and, if set, a size limit on its body: far above the
    largest valid request, so the field rules give the precise answer and this only stops
    abuse before the body is read.

    Plain ASGI rather than ``@app.middleware``, which costs a task and two streams a request.
    """

    def __init__(self, app: ASGIApp, max_request_bytes: int | None = None) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        correlation_id = headers.get("x-correlation-id", "")[:200] or logs.current_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("x-correlation-id", correlation_id)
            await send(message)

        token = logs.correlation_id.set(correlation_id)
        started = time.perf_counter()
        try:
            if (limit := self.max_request_bytes) is not None and _length(headers) > limit:
                refusal = f"a request may carry at most {limit // 1024} KB"
                await error(413, "too_large", refusal)(scope, receive, answer)
            else:
                await self.app(scope, receive, answer)
        finally:
            logs.correlation_id.reset(token)
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()


def _length(headers: Headers) -> int:
    given = headers.get("content-length", "")
    return int(given) if given.isdigit() else 0


SWAGGER_UI = files("fastapi_offline") / "static"  # Swagger UI 5, packaged for offline use


def _offline_docs(app: FastAPI) -> None:
    app.mount("/docs/assets", StaticFiles(directory=str(SWAGGER_UI)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title}: API",
            swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs/assets/favicon.png",
        )


def _operations(app: FastAPI, ready: ReadyCheck) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: database, broker and background work",
        response_model=ReadyOut,
        responses={503: {"model": ReadyOut, "description": "Not ready: the checks say which"}},
    )
    async def readyz() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        body = ReadyOut(status="ready" if ok else "not_ready", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
