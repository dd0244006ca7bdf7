"""The matching service: ranked partners, consortia, similar partners and practices."""

from __future__ import annotations

from gateway.clients.base import Json, ServiceClient


class MatchingClient(ServiceClient):
    service = "matching"

    async def for_need(
        self,
        need_id: str,
        *,
        region: list[str] | None,
        kind: list[str] | None,
        service_area: list[str] | None,
        limit: int,
    ) -> Json:
        return await self.get(
            f"/needs/{need_id}/partners",
            region=region,
            kind=kind,
            service_area=service_area,
            limit=limit,
        )

    async def rank(self, query: Json) -> Json:
        return await self.call("POST", "/rank", body=query)

    async def consortium_for_need(self, need_id: str) -> Json:
        return await self.get(f"/needs/{need_id}/consortium")

    async def consortium(self, query: Json) -> Json:
        return await self.call("POST", "/consortium", body=query)

    async def similar_partners(self, partner_id: str, limit: int) -> Json:
        return await self.get(f"/partners/{partner_id}/similar", limit=limit)

    async def deliverers(self, practice_id: str, region: list[str] | None, limit: int) -> Json:
        return await self.get(f"/practices/{practice_id}/partners", region=region, limit=limit)

    async def needs_for(self, partner_id: str, limit: int) -> Json:
        return await self.get(f"/partners/{partner_id}/needs", limit=limit)
