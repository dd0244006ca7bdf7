"""The matching service's practice search over HTTP.

Matching is the one ranking authority: it answers practice ids in rank order
with a score and the terms behind it; the exchange reads the practices
themselves from its own database.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pspx.errors import Unavailable


class MatchingUnavailable(Unavailable):
    """Matching could not answer; the exchange's own data is unaffected."""

    code = "matching_unavailable"


class Term(BaseModel):
    model_config = ConfigDict(extra="ignore")

    term: str
    weight: float


class Hit(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    score: float
    terms: list[Term] = Field(default_factory=list)


class Results(BaseModel):
    model_config = ConfigDict(extra="ignore")

    results: list[Hit]


class MatchingClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        await self.http.aclose()

    async def search(
        self, q: str, *, region: str | None, service_area: str | None, limit: int
    ) -> list[Hit]:
        params: dict[str, Any] = {"q": q, "limit": limit}
        if region:
            params["region"] = region
        if service_area:
            params["service_area"] = service_area
        return await self._results("/practices/search", params)

    async def similar(self, practice_id: str, *, limit: int) -> list[Hit]:
        """Practices like this one; none if matching has not indexed it yet."""
        return await self._results(
            f"/practices/{quote(practice_id, safe='')}/similar",
            {"limit": limit},
            missing_is_empty=True,
        )

    async def _results(
        self, path: str, params: dict[str, Any], *, missing_is_empty: bool = False
    ) -> list[Hit]:
        try:
            response = await self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise MatchingUnavailable(
                f"the matching service could not be reached ({type(exc).__name__}); "
                "search and similar practices are unavailable, try again shortly"
            ) from exc
        if response.status_code == 404 and missing_is_empty:
            return []
        if response.status_code != 200:
            raise MatchingUnavailable(
                f"the matching service answered {response.status_code}; "
                "search and similar practices are unavailable, try again shortly"
            )
        try:
            return Results.model_validate_json(response.content).results
        except ValidationError as exc:
            raise MatchingUnavailable(
                "the matching service gave an answer the exchange does not understand"
            ) from exc
