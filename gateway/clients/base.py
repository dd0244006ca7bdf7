"""One HTTP client per service, one error mapping for all of them.

A service answers a refusal as ``{error, message, fields}`` with a status; the
client raises ``Refused`` carrying them, so the schema can turn each into a
typed GraphQL error. Anything else (the service away, a 5xx, a body that is
not the error shape) is ``Unavailable``: the client learns nothing more than
that, and the schema masks it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from pspx import logs

log = logging.getLogger(__name__)

Json = Any
Params = dict[str, str | int | list[str] | None]
TIMEOUT = aiohttp.ClientTimeout(total=10.0, connect=2.0)


def _query(params: Params | None) -> list[tuple[str, str]]:
    """Query parameters as pairs, a list as the same name repeated; unset ones left out."""
    pairs = []
    for name, value in (params or {}).items():
        for one in value if isinstance(value, list) else [value]:
            if one is not None:
                pairs.append((name, str(one)))
    return pairs


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
    """Calls one service over HTTP/1.1 with kept-alive connections.

    aiohttp rather than httpx here: on the gateway's path to every service, it spends about
    a quarter of httpx's CPU time on a request (``bench/gateway.py``)."""

    service: str = ""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop that serves the requests.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=200)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self, method: str, path: str, *, params: Params | None = None, body: Json = None
    ) -> Json:
        headers = {"x-correlation-id": logs.current_correlation_id()}
        try:
            async with self._http().request(
                method, f"{self.base_url}{path}", params=_query(params), json=body, headers=headers
            ) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "a service did not answer",
                extra={"fields": {"service": self.service, "path": path, "error": repr(exc)}},
            )
            raise Unavailable(self.service) from exc
        if status < 400:
            return json.loads(raw)
        raise self._refusal(status, raw, path)

    def _refusal(self, status: int, raw: bytes, path: str) -> Exception:
        try:
            data = json.loads(raw)
            refused = Refused(
                status=status,
                code=str(data["error"]),
                message=str(data["message"]),
                fields=[Problem(f["field"], f["problem"]) for f in data.get("fields") or []],
            )
        except (ValueError, KeyError, TypeError):
            refused = None
        if refused is None or status >= 500:
            log.warning(
                "a service failed",
                extra={"fields": {"service": self.service, "path": path, "status": status}},
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
