"""What one may read: profiles, needs, partnerships, practices, and rankings with reasons."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from gateway import rules
from gateway.auth import Role
from gateway.clients import Refused
from gateway.schema.context import Context, Json
from gateway.schema.paging import connection
from gateway.schema.practices import Comment, Practice, PracticeStatus, RankedPractice
from gateway.schema.types import (
    Consortium,
    FittingNeed,
    Need,
    NeedStatusEnum,
    Organisation,
    OrgKindEnum,
    Partnership,
    RankedPartner,
    RouteCheck,
    SizeBandEnum,
    StageEnum,
    need,
    organisation,
)
from pspx.events.registry import NeedStatus, OrgKind, Stage


@strawberry.input(description="Ad-hoc text to rank partners for, with optional filters")
class PartnerSearch:
    text: str = strawberry.field(description="What the partner should do; 1 to 20,000 characters")
    title: str = strawberry.field(default="", description="At most 500 characters")
    outcomes: list[str] = strawberry.field(default_factory=list, description="At most 50")
    regions: list[str] = strawberry.field(default_factory=list, description="At most 50")
    kinds: list[OrgKindEnum] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="At most 20"
    )
    service_areas: list[str] = strawberry.field(default_factory=list, description="At most 50")
    sizes: list[SizeBandEnum] = strawberry.field(
        default_factory=list,
        description="Any of these (none: any size); no staff figure matches none",
    )

    def to_json(self, limit: int) -> Json:
        return {
            "title": self.title,
            "description": self.text,
            "outcomes": self.outcomes,
            "regions": self.regions,
            "kinds": [OrgKind(k).value for k in self.kinds],
            "service_areas": self.service_areas,
            "sizes": [s.value for s in self.sizes],
            "limit": limit,
        }


@strawberry.input(description="Answers to the route check's questions; leave out what is unknown")
class RouteAnswersInput:
    initiated_by_organisation: bool | None = None
    realises_public_programme: bool | None = None
    no_market: bool | None = None
    both_contribute: bool | None = None
    authority_not_regulating_detail: bool | None = None
    several_providers: bool | None = None
    organisation_makes_profit: bool | None = None
    capable_providers: bool | None = None
    committed_commissioner: bool | None = None
    partnership_potential: bool | None = None
    notes: str = strawberry.field(default="", description="At most 5,000 characters")

    def to_json(self) -> Json:
        return dict(vars(self))


@strawberry.type(description="Who is signed in")
class Viewer:
    subject: str
    role: str
    org_id: str

    @strawberry.field
    async def organisation(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.org_id)


def _values(items: list[Any] | None) -> list[str] | None:
    return [getattr(i, "value", i) for i in items] if items else None


@strawberry.type
class Query:
    node: relay.Node | None = relay.node(description="Any record by its global id")

    @strawberry.field(description="Who the token signs in, or null without one")
    async def me(self, info: Info[Context, None]) -> Viewer | None:
        viewer = await info.context.viewer()
        if viewer is None:
            return None
        return Viewer(subject=viewer.subject, role=viewer.role.value, org_id=viewer.org_id)

    @strawberry.field(description="An organisation's public profile by its org-id")
    async def organisation(self, info: Info[Context, None], org_id: str) -> Organisation | None:
        return await organisation(info, org_id)

    @strawberry.field(description="Organisations by kind, region, service area or name")
    async def organisations(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        kind: list[OrgKindEnum] | None = None,  # type: ignore[valid-type]
        region: list[str] | None = None,
        service_area: list[str] | None = None,
        name: str | None = None,
    ) -> relay.Connection[Organisation]:
        registry = info.context.services.registry

        async def fetch(cursor: str | None, limit: int) -> Json:
            return await registry.list_organisations(
                kind=_values(kind),
                region=region,
                service_area=service_area,
                q=name,
                cursor=cursor,
                limit=limit,
            )

        return await connection(fetch, first, after, Organisation.from_json, cap=200)

    @strawberry.field(description="Partners ranked for ad-hoc text, each with its reasons")
    async def search_partners(
        self, info: Info[Context, None], search: PartnerSearch, first: int = 20
    ) -> list[RankedPartner]:
        found = await info.context.services.matching.rank(search.to_json(rules.page_size(first)))
        return RankedPartner.many(found["results"])

    @strawberry.field(description="Partners who together cover ad-hoc text")
    async def consortium(self, info: Info[Context, None], search: PartnerSearch) -> Consortium:
        return Consortium.from_json(
            await info.context.services.matching.consortium(search.to_json(20))
        )

    @strawberry.field(description="A need (signed-in users)")
    async def need(self, info: Info[Context, None], need_id: str) -> Need | None:
        rules.signed_in(await info.context.viewer())
        return await need(info, need_id)

    @strawberry.field(description="Needs, newest first by default (signed-in users)")
    async def needs(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        commissioner_id: list[str] | None = None,
        status: list[NeedStatusEnum] | None = None,  # type: ignore[valid-type]
        service_area: list[str] | None = None,
        region: list[str] | None = None,
    ) -> relay.Connection[Need]:
        rules.signed_in(await info.context.viewer())
        registry = info.context.services.registry

        async def fetch(cursor: str | None, limit: int) -> Json:
            return await registry.list_needs(
                commissioner_id=commissioner_id,
                status=[NeedStatus(s).value for s in status] if status else None,
                service_area=service_area,
                region=region,
                cursor=cursor,
                limit=limit,
            )

        return await connection(fetch, first, after, Need.from_json, cap=200)

    @strawberry.field(
        description="Open needs whose shortlist your organisation is on, the best-scored "
        "first: partners for their own organisation, operators for any"
    )
    async def needs_that_fit(
        self, info: Info[Context, None], org_id: str | None = None, first: int = 20
    ) -> list[FittingNeed]:
        viewer = rules.signed_in(await info.context.viewer())
        if viewer.role is Role.OPERATOR:
            org_id = org_id or viewer.org_id
        else:
            org_id = rules.partner(viewer, org_id or viewer.org_id).org_id
        try:
            found = await info.context.services.matching.needs_for(org_id, rules.page_size(first))
        except Refused as exc:
            if exc.status == 404:  # not ranked yet, or not a partner: nothing fits
                return []
            raise
        return FittingNeed.many(found["results"])

    @strawberry.field(description="A partnership (its parties and operators)")
    async def partnership(
        self, info: Info[Context, None], partnership_id: str
    ) -> Partnership | None:
        viewer = rules.signed_in(await info.context.viewer())
        found = await info.context.loaders.partnership.load(partnership_id)
        if found is None:
            return None
        if not rules.is_party(viewer, found):
            raise rules.Denied("only its parties see a partnership")
        return Partnership.from_json(found)

    @strawberry.field(
        description="Partnerships the viewer's organisation is part of (operators: all)"
    )
    async def partnerships(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        need_id: list[str] | None = None,
        stage: list[StageEnum] | None = None,  # type: ignore[valid-type]
    ) -> relay.Connection[Partnership]:
        viewer = rules.signed_in(await info.context.viewer())
        org = None if viewer.role is Role.OPERATOR else [viewer.org_id]
        registry = info.context.services.registry

        async def fetch(cursor: str | None, limit: int) -> Json:
            return await registry.list_partnerships(
                need_id=need_id,
                org_id=org,
                stage=[Stage(s).value for s in stage] if stage else None,
                cursor=cursor,
                limit=limit,
            )

        return await connection(fetch, first, after, Partnership.from_json, cap=200)

    @strawberry.field(description="Which route the answers point to, with a reason for each")
    async def route_check(
        self, info: Info[Context, None], answers: RouteAnswersInput
    ) -> RouteCheck:
        return RouteCheck.from_json(
            await info.context.services.registry.route_check(answers.to_json())
        )

    @strawberry.field(description="A practice: published ones for all, drafts for their author")
    async def practice(self, info: Info[Context, None], practice_id: str) -> Practice | None:
        viewer = await info.context.viewer()
        try:
            found = await info.context.services.exchange.practice(practice_id)
        except Refused as exc:
            if exc.status == 404:  # an absent practice, not an error
                return None
            raise
        return Practice.from_json(found) if rules.may_see_practice(viewer, found) else None

    @strawberry.field(
        description="Practices with filters and sorting; drafts and withdrawn ones only to "
        "their author's organisation and operators"
    )
    async def practices(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        status: PracticeStatus = PracticeStatus.PUBLISHED,
        service_area: list[str] | None = None,
        region: list[str] | None = None,
        author_id: list[str] | None = None,
        tag: list[str] | None = None,
        most_endorsed: bool = False,
    ) -> relay.Connection[Practice]:
        if status is not PracticeStatus.PUBLISHED:
            viewer = rules.signed_in(await info.context.viewer())
            if viewer.role is not Role.OPERATOR:
                author_id = [viewer.org_id]
        exchange = info.context.services.exchange

        async def fetch(cursor: str | None, limit: int) -> Json:
            return await exchange.list_practices(
                status=status.value,
                service_area=service_area,
                region=region,
                author_id=author_id,
                tag=tag,
                sort="most_endorsed" if most_endorsed else "newest",
                cursor=cursor,
                limit=limit,
            )

        return await connection(fetch, first, after, Practice.from_json, cap=100)

    @strawberry.field(
        description="Flagged comments no moderator has hidden yet, the longest "
        "waiting first: operators only"
    )
    async def moderation_queue(
        self, info: Info[Context, None], first: int = 20, after: str | None = None
    ) -> relay.Connection[Comment]:
        rules.operator(await info.context.viewer())
        return await connection(
            info.context.services.exchange.moderation_queue,
            first,
            after,
            Comment.from_json,
            cap=100,
        )

    @strawberry.field(description="Published practices ranked for a search, with reasons")
    async def search_practices(
        self,
        info: Info[Context, None],
        text: str,
        region: list[str] | None = None,
        service_area: list[str] | None = None,
        first: int = 10,
    ) -> list[RankedPractice]:
        found = await info.context.services.exchange.search(
            text, region=region, service_area=service_area, limit=rules.page_size(first)
        )
        return RankedPractice.many(found["results"])
