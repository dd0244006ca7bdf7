"""One HTTP client per service, one error mapping for all of them.

A service answers a refusal as ``{error, message, fields}`` with a status; the
client raises ``Refused`` carrying them, so the schema can turn each into a
typed GraphQL error. Anything else (the service away, a 5xx, a body that is
not the error shape) is ``Unavailable``: the client learns nothing more than
that, and the schema masks it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from pspx import logs

log = logging.getLogger(__name__)

Json = Any
Params = dict[str, str | int | list[str] | None]
TIMEOUT = httpx.Timeout(10.0, connect=2.0)


@dataclass
class Problem:
    field: str
    problem: str


@dataclass
class Refused(Exception):
    """The service refused the request: ``code`` is its stable error code."""

    status: int
    code: str
    message: str
    fields: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Unavailable(Exception):
    """The service could not answer; the details are logged, never shown to a client."""


class ServiceClient:
    service: str = ""

    def __init__(self, base_url: str, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.AsyncClient(
            timeout=TIMEOUT, limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def call(
        self, method: str, path: str, *, params: Params | None = None, body: Json = None
    ) -> Json:
        query = {k: v for k, v in (params or {}).items() if v is not None and v != []}
        headers = {"x-correlation-id": logs.current_correlation_id()}
        try:
            response = await self.http.request(
                method, f"{self.base_url}{path}", params=query, json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning(
                "a service did not answer",
                extra={"fields": {"service": self.service, "path": path, "error": repr(exc)}},
            )
            raise Unavailable(self.service) from exc
        if response.status_code < 400:
            return response.json()
        raise self._refusal(response, path)

    def _refusal(self, response: httpx.Response, path: str) -> Exception:
        try:
            data = response.json()
            refused = Refused(
                status=response.status_code,
                code=str(data["error"]),
                message=str(data["message"]),
                fields=[Problem(f["field"], f["problem"]) for f in data.get("fields") or []],
            )
        except (ValueError, KeyError, TypeError):
            refused = None
        if refused is None or response.status_code >= 500:
            log.warning(
                "a service failed",
                extra={
                    "fields": {
                        "service": self.service,
                        "path": path,
                        "status": response.status_code,
                    }
                },
            )
            return Unavailable(self.service)
        return refused

    async def get(self, path: str, **params: str | int | list[str] | None) -> Json:
        return await self.call("GET", path, params=params)

    async def by_ids(
        self, path: str, ids: list[str], *, batch: int = 200, **params: str
    ) -> dict[str, Json]:
        """A batch read: the items of a listing with these ids, by id (absent ones missing);
        ``batch`` is the most ids the listing takes in one call."""
        found: dict[str, Json] = {}
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            page = await self.get(path, id=chunk, limit=len(chunk), **params)
            found.update({item["id"]: item for item in page["items"]})
        return found
