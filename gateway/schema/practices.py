"""The innovation exchange as the schema shows it: practices, endorsements, comments."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Self

import strawberry
from strawberry import relay
from strawberry.types import Info

from gateway import rules
from gateway.auth import Role
from gateway.schema.context import Context, Json
from gateway.schema.types import (
    Organisation,
    OrgKindEnum,
    PracticeStatus,
    RankedPartner,
    Reason,
    organisation,
    when,
)
from pspx.events.registry import OrgKind


@strawberry.type(description="Who wrote a practice, as the exchange knows it")
class PracticeAuthor:
    org_id: str
    name: str
    kind: OrgKindEnum | None  # type: ignore[valid-type]
    removed: bool = strawberry.field(description="It has left the registry; its work stays")

    @strawberry.field
    async def organisation(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.org_id)


@strawberry.type
class PracticeMeasure:
    name: str
    value: float
    unit: str


@strawberry.type
class Evaluation:
    title: str
    url: str


@strawberry.type(description="What shows the practice works")
class Evidence:
    people_served: int | None
    cost_savings_gbp: int | None
    quality_measures: list[PracticeMeasure]
    evaluations: list[Evaluation]


@strawberry.type(description="A commissioner's endorsement")
class Endorsement:
    endorser_id: str
    endorser_name: str
    at: datetime


@strawberry.type(description="A hidden comment's moderation")
class Moderation:
    moderator: str
    reason: str
    at: datetime


@strawberry.type(description="Who asked a moderator to look at a comment, why and when")
class Flag:
    org_id: str
    reason: str
    at: datetime


@strawberry.type(description="A comment on a practice; replies are threaded under it")
class Comment(relay.Node):
    key: relay.NodeID[str]
    version: int
    practice_id: str
    number: int
    parent_id: str | None
    author_id: str
    author_name: str
    author_kind: OrgKindEnum | None  # type: ignore[valid-type]
    body: str | None = strawberry.field(description="null when a moderator hid it")
    body_html: str | None
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime
    flag_count: int
    hidden: Moderation | None
    replies: list[Comment]
    flagged_by: strawberry.Private[list[Flag]]

    @strawberry.field
    def comment_id(self) -> str:
        return self.key

    @strawberry.field(description="Who flagged it and why: operators only, null for others")
    async def flags(self, info: Info[Context, None]) -> list[Flag] | None:
        viewer = await info.context.viewer()
        return self.flagged_by if viewer and viewer.role is Role.OPERATOR else None

    @strawberry.field(description="The practice it is on")
    async def practice(self, info: Info[Context, None]) -> Practice | None:
        found = await info.context.loaders.practice.load(self.practice_id)
        return Practice.from_json(found) if found else None

    @classmethod
    def from_json(cls, d: Json) -> Self:
        hidden = d.get("hidden")
        return cls(
            key=d["id"],
            version=d["version"],
            practice_id=d["practice_id"],
            number=d["number"],
            parent_id=d.get("parent_id"),
            author_id=d["author_id"],
            author_name=d["author_name"],
            author_kind=OrgKind(d["author_kind"]) if d.get("author_kind") else None,
            body=d.get("body"),
            body_html=d.get("body_html"),
            created_at=datetime.fromisoformat(d["created_at"]),
            edited_at=when(d.get("edited_at")),
            editable_until=datetime.fromisoformat(d["editable_until"]),
            flag_count=d["flag_count"],
            hidden=Moderation(
                moderator=hidden["moderator"],
                reason=hidden["reason"],
                at=datetime.fromisoformat(hidden["at"]),
            )
            if hidden
            else None,
            replies=[],
            flagged_by=[
                Flag(org_id=f["org_id"], reason=f["reason"], at=datetime.fromisoformat(f["at"]))
                for f in d.get("flags", [])
            ],
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        """A comment is seen by whoever may see the practice it is on."""
        viewer = await info.context.viewer()
        found = await info.context.loaders.comment.load_many(list(node_ids))
        practices = await info.context.loaders.practice.load_many(
            [d["practice_id"] if d else "" for d in found]
        )
        return [
            cls.from_json(d) if d and p and rules.may_see_practice(viewer, p) else None
            for d, p in zip(found, practices, strict=True)
        ]

    @classmethod
    def threads(cls, found: Iterable[Json]) -> list[Self]:
        """The comments as threads: each top-level comment with its replies, oldest first."""
        comments = [cls.from_json(d) for d in found]
        by_id = {c.key: c for c in comments}
        top: list[Self] = []
        for c in comments:
            parent = by_id.get(c.parent_id) if c.parent_id else None
            (parent.replies if parent else top).append(c)
        return top


@strawberry.type(description="Good practice shared by a third-sector organisation")
class Practice(relay.Node):
    key: relay.NodeID[str]
    version: int
    author: PracticeAuthor
    title: str
    summary: str
    body: str = strawberry.field(description="Markdown")
    body_html: str = strawberry.field(description="The body rendered and sanitised")
    service_area: str | None
    regions: list[str]
    outcomes: list[str]
    evidence: Evidence
    tags: list[str]
    status: PracticeStatus
    endorsements: list[Endorsement]
    endorsement_count: int
    comment_count: int
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    withdrawn_at: datetime | None

    @strawberry.field
    def practice_id(self) -> str:
        return self.key

    @strawberry.field(description="The dialogue: threads of comments, oldest first")
    async def comments(self, info: Info[Context, None]) -> list[Comment]:
        return Comment.threads(await info.context.services.exchange.comments(self.key))

    @strawberry.field(description="Published practices most like this one")
    async def similar(self, info: Info[Context, None], first: int = 5) -> list[RankedPractice]:
        found = await info.context.services.exchange.similar(self.key, rules.page_size(first))
        return RankedPractice.many(found["results"])

    @strawberry.field(description="Partners who could deliver this practice, in a region if given")
    async def deliverers(
        self, info: Info[Context, None], region: list[str] | None = None, first: int = 20
    ) -> list[RankedPartner]:
        found = await info.context.services.matching.deliverers(
            self.key, region, rules.page_size(first)
        )
        return RankedPartner.many(found["results"])

    @classmethod
    def from_json(cls, d: Json) -> Self:
        c, a = d["content"], d["author"]
        e = c.get("evidence", {})
        return cls(
            key=d["id"],
            version=d["version"],
            author=PracticeAuthor(
                org_id=a["id"],
                name=a["name"],
                kind=OrgKind(a["kind"]) if a.get("kind") else None,
                removed=a["removed"],
            ),
            title=c["title"],
            summary=c["summary"],
            body=c["body"],
            body_html=d["body_html"],
            service_area=c.get("service_area"),
            regions=c.get("regions", []),
            outcomes=c.get("outcomes", []),
            evidence=Evidence(
                people_served=e.get("people_served"),
                cost_savings_gbp=e.get("cost_savings_gbp"),
                quality_measures=[PracticeMeasure(**m) for m in e.get("quality_measures", [])],
                evaluations=[Evaluation(**v) for v in e.get("evaluations", [])],
            ),
            tags=c.get("tags", []),
            status=PracticeStatus(d["status"]),
            endorsements=[
                Endorsement(
                    endorser_id=x["endorser_id"],
                    endorser_name=x["endorser_name"],
                    at=datetime.fromisoformat(x["at"]),
                )
                for x in d["endorsements"]
            ],
            endorsement_count=d["endorsement_count"],
            comment_count=d["comment_count"],
            created_at=datetime.fromisoformat(d["created_at"]),
            updated_at=datetime.fromisoformat(d["updated_at"]),
            published_at=when(d.get("published_at")),
            withdrawn_at=when(d.get("withdrawn_at")),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[Context, None], node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        viewer = await info.context.viewer()
        found = await info.context.loaders.practice.load_many(list(node_ids))
        return [
            cls.from_json(d) if d and rules.may_see_practice(viewer, d) else None for d in found
        ]


@strawberry.type(description="A practice ranked for a search, and why")
class RankedPractice:
    rank: int
    score: float
    reasons: list[Reason]
    practice: Practice

    @classmethod
    def many(cls, results: Iterable[Json]) -> list[Self]:
        return [
            cls(
                rank=n,
                score=r["score"],
                reasons=Reason.many(r["terms"]),
                practice=Practice.from_json(r["practice"]),
            )
            for n, r in enumerate(results, start=1)
        ]
