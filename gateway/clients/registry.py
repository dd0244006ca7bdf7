"""The registry: organisations, needs, partnerships and the route check."""

from __future__ import annotations

from gateway.clients.base import Json, ServiceClient


class RegistryClient(ServiceClient):
    service = "registry"

    async def organisations(self, ids: list[str]) -> dict[str, Json]:
        return await self.by_ids("/organisations", ids)

    async def needs(self, ids: list[str]) -> dict[str, Json]:
        return await self.by_ids("/needs", ids)

    async def partnerships(self, ids: list[str]) -> dict[str, Json]:
        return await self.by_ids("/partnerships", ids)

    async def list_organisations(
        self,
        *,
        kind: list[str] | None,
        region: list[str] | None,
        service_area: list[str] | None,
        q: str | None,
        cursor: str | None,
        limit: int,
    ) -> Json:
        return await self.get(
            "/organisations",
            kind=kind,
            region=region,
            service_area=service_area,
            q=q,
            cursor=cursor,
            limit=limit,
        )

    async def list_needs(
        self,
        *,
        commissioner_id: list[str] | None,
        status: list[str] | None,
        service_area: list[str] | None,
        region: list[str] | None,
        cursor: str | None,
        limit: int,
    ) -> Json:
        return await self.get(
            "/needs",
            commissioner_id=commissioner_id,
            status=status,
            service_area=service_area,
            region=region,
            cursor=cursor,
            limit=limit,
        )

    async def list_partnerships(
        self,
        *,
        need_id: list[str] | None,
        org_id: list[str] | None,
        stage: list[str] | None,
        cursor: str | None,
        limit: int,
    ) -> Json:
        return await self.get(
            "/partnerships",
            need_id=need_id,
            org_id=org_id,
            stage=stage,
            cursor=cursor,
            limit=limit,
        )

    async def register(self, org_id: str, profile: Json) -> Json:
        return await self.call("POST", "/organisations", body={"id": org_id, "profile": profile})

    async def update(self, org_id: str, expected_version: int, profile: Json) -> Json:
        body = {"expected_version": expected_version, "profile": profile}
        return await self.call("PUT", f"/organisations/{org_id}", body=body)

    async def remove(self, org_id: str, expected_version: int) -> Json:
        return await self.call(
            "DELETE", f"/organisations/{org_id}", params={"expected_version": expected_version}
        )

    async def post_need(self, commissioner_id: str, details: Json) -> Json:
        body = {"commissioner_id": commissioner_id, "details": details}
        return await self.call("POST", "/needs", body=body)

    async def revise_need(self, need_id: str, expected_version: int, details: Json) -> Json:
        body = {"expected_version": expected_version, "details": details}
        return await self.call("PUT", f"/needs/{need_id}", body=body)

    async def move_need(self, need_id: str, expected_version: int, status: str) -> Json:
        body = {"expected_version": expected_version, "status": status}
        return await self.call("POST", f"/needs/{need_id}/status", body=body)

    async def propose(self, need_id: str, partner_ids: list[str], answers: Json, note: str) -> Json:
        body = {
            "need_id": need_id,
            "partner_ids": partner_ids,
            "route_answers": answers,
            "note": note,
        }
        return await self.call("POST", "/partnerships", body=body)

    async def move_partnership(
        self, partnership_id: str, expected_version: int, to_stage: str, note: str
    ) -> Json:
        body = {"expected_version": expected_version, "to_stage": to_stage, "note": note}
        return await self.call("POST", f"/partnerships/{partnership_id}/stage", body=body)

    async def recheck_route(
        self, partnership_id: str, expected_version: int, answers: Json
    ) -> Json:
        body = {"expected_version": expected_version, "route_answers": answers}
        return await self.call("POST", f"/partnerships/{partnership_id}/route-check", body=body)

    async def add_contribution(
        self, partnership_id: str, expected_version: int, contribution: Json
    ) -> Json:
        body = {"expected_version": expected_version, "contribution": contribution}
        return await self.call("POST", f"/partnerships/{partnership_id}/contributions", body=body)

    async def record_outcomes(
        self, partnership_id: str, expected_version: int, outcomes: Json
    ) -> Json:
        body = {"expected_version": expected_version, "outcomes": outcomes}
        return await self.call("PUT", f"/partnerships/{partnership_id}/outcomes", body=body)

    async def route_check(self, answers: Json) -> Json:
        return await self.call("POST", "/route-check", body=answers)
