"""The HTTP edge every service shares: one error shape, statuses chosen here, docs offline."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from pymongo.errors import ServerSelectionTimeoutError

from pspx.errors import AlreadyExists, DomainError, Forbidden, NotFound, StaleVersion, Unavailable
from pspx.http import create_app, errors
from pspx.settings import Settings
from stack import manifest


class Body(BaseModel):
    count: int


def app_raising(exc: Exception) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    async def ready() -> dict[str, bool]:
        return {"mongo": True}

    app = create_app(title="t", description="d", lifespan=lifespan, ready=ready)

    @app.post("/things", responses=errors(422))
    async def post(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/fail")
    async def fail() -> None:
        raise exc

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"", b"[1, 2]"],
    ids=["broken JSON", "not UTF-8", "empty", "not an object"],
)
async def test_a_body_that_is_not_the_json_asked_for_is_invalid_input(body: bytes) -> None:
    async with client(app_raising(RuntimeError())) as api:
        response = await api.post(
            "/things", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid_input" and answer["message"]
    assert [f["field"] for f in answer["fields"]] == ["(body)"]


async def test_a_missing_field_is_named() -> None:
    async with client(app_raising(RuntimeError())) as api:
        response = await api.post("/things", json={"count": "many"})
    assert response.json()["fields"] == [
        {
            "field": "count",
            "problem": "Input should be a valid integer, unable to parse string as an integer",
        }
    ]


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (DomainError("no", field="x"), 422, "rule_violated"),
        (Forbidden("no"), 403, "forbidden"),
        (NotFound("none"), 404, "not_found"),
        (AlreadyExists("twice"), 409, "already_exists"),
        (StaleVersion("old"), 409, "stale_version"),
        (Unavailable("away"), 503, "unavailable"),
        (ServerSelectionTimeoutError("no primary"), 503, "unavailable"),
    ],
)
async def test_errors_get_their_status_at_the_edge(exc: Exception, status: int, code: str) -> None:
    async with client(app_raising(exc)) as api:
        response = await api.get("/fail")
    assert (response.status_code, response.json()["error"]) == (status, code)


async def test_an_unexpected_error_says_nothing_of_its_insides() -> None:
    async with client(app_raising(KeyError("secret-internal-detail"))) as api:
        response = await api.get("/fail", headers={"x-correlation-id": "trace-7"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    assert "trace-7" in response.json()["message"]
    assert "secret-internal-detail" not in response.text and "Traceback" not in response.text


async def test_unknown_routes_and_methods_answer_the_error_shape() -> None:
    async with client(app_raising(RuntimeError())) as api:
        missing = await api.get("/nowhere")
        wrong = await api.delete("/things")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")


async def test_the_api_docs_load_nothing_from_outside() -> None:
    async with client(app_raising(RuntimeError())) as api:
        page = await api.get("/docs")
        urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
        assets = [await api.get(u) for u in urls if u.startswith("/docs/assets/")]
    assert page.status_code == 200
    assert urls and all(u.startswith("/") for u in urls), urls  # no other host
    assert "://" not in page.text.replace("http://test", "")
    assert len(assets) == 3 and all(a.status_code == 200 and a.content for a in assets)


@pytest.mark.parametrize("name", [s.name for s in manifest.SERVICES if not s.public])
def test_every_error_a_service_documents_has_the_error_shape(name: str) -> None:
    """The internal services' HTTP APIs; the gateway's API is GraphQL (docs/schema.graphql)."""
    schema = manifest.build(name, Settings()).openapi()
    documented = [
        (path, method, status, answer)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        for status, answer in op["responses"].items()
        if status.startswith(("4", "5")) and path != "/readyz"
    ]
    assert documented
    shapes = {answer["content"]["application/json"]["schema"]["$ref"] for *_, answer in documented}
    assert shapes == {"#/components/schemas/ErrorOut"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
