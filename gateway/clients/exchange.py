"""The exchange: practices, endorsements, comments and their moderation."""

from __future__ import annotations

from gateway.clients.base import Json, ServiceClient


class ExchangeClient(ServiceClient):
    service = "exchange"

    async def published(self, ids: list[str]) -> dict[str, Json]:
        return await self.by_ids("/practices", ids, batch=100, status="published")

    async def practice(self, practice_id: str) -> Json:
        return await self.get(f"/practices/{practice_id}")

    async def list_practices(
        self,
        *,
        status: str,
        service_area: list[str] | None,
        region: list[str] | None,
        author_id: list[str] | None,
        tag: list[str] | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> Json:
        return await self.get(
            "/practices",
            status=status,
            service_area=service_area,
            region=region,
            author_id=author_id,
            tag=tag,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )

    async def search(
        self, q: str, *, region: list[str] | None, service_area: list[str] | None, limit: int
    ) -> Json:
        return await self.get(
            "/practices/search", q=q, region=region, service_area=service_area, limit=limit
        )

    async def similar(self, practice_id: str, limit: int) -> Json:
        return await self.get(f"/practices/{practice_id}/similar", limit=limit)

    async def comments(self, practice_id: str) -> Json:
        return await self.get(f"/practices/{practice_id}/comments")

    async def comments_by_id(self, ids: list[str]) -> dict[str, Json]:
        found: dict[str, Json] = {}
        for start in range(0, len(ids), 100):
            for item in await self.get("/comments", id=ids[start : start + 100]):
                found[item["id"]] = item
        return found

    async def moderation_queue(self, cursor: str | None, limit: int) -> Json:
        return await self.get("/moderation/queue", cursor=cursor, limit=limit)

    async def draft(self, author_id: str, content: Json, publish: bool) -> Json:
        body = {**content, "author_id": author_id, "publish": publish}
        return await self.call("POST", "/practices", body=body)

    async def revise(self, practice_id: str, author_id: str, version: int, content: Json) -> Json:
        body = {**content, "author_id": author_id, "expected_version": version}
        return await self.call("PUT", f"/practices/{practice_id}", body=body)

    async def publish(self, practice_id: str, author_id: str, version: int) -> Json:
        body = {"author_id": author_id, "expected_version": version}
        return await self.call("POST", f"/practices/{practice_id}/publish", body=body)

    async def withdraw(self, practice_id: str, author_id: str, version: int) -> Json:
        body = {"author_id": author_id, "expected_version": version}
        return await self.call("POST", f"/practices/{practice_id}/withdraw", body=body)

    async def endorse(self, practice_id: str, endorser_id: str) -> Json:
        body = {"endorser_id": endorser_id}
        return await self.call("POST", f"/practices/{practice_id}/endorsements", body=body)

    async def unendorse(self, practice_id: str, endorser_id: str) -> Json:
        return await self.call("DELETE", f"/practices/{practice_id}/endorsements/{endorser_id}")

    async def comment(
        self, practice_id: str, author_id: str, body: str, parent: str | None
    ) -> Json:
        payload = {"author_id": author_id, "body": body, "parent_id": parent}
        return await self.call("POST", f"/practices/{practice_id}/comments", body=payload)

    async def edit_comment(self, comment_id: str, author_id: str, version: int, body: str) -> Json:
        payload = {"author_id": author_id, "expected_version": version, "body": body}
        return await self.call("PATCH", f"/comments/{comment_id}", body=payload)

    async def flag(self, comment_id: str, org_id: str, reason: str) -> Json:
        payload = {"org_id": org_id, "reason": reason}
        return await self.call("POST", f"/comments/{comment_id}/flags", body=payload)

    async def hide(self, comment_id: str, moderator: str, reason: str) -> Json:
        payload = {"moderator": moderator, "reason": reason}
        return await self.call("POST", f"/comments/{comment_id}/hide", body=payload)
