"""Live alerts over graphql-transport-ws, fed by the gateway's follower of the alert topics.

Each alert carries a ``cursor``; subscribing again with ``after`` set to the
last one received resumes without a gap (within the live window). Nobody is
told about another organisation's private data: match and shortlist alerts go
to the need's commissioner (and, for ``needFits``, the partner concerned),
partnership alerts to its parties; operators see all; practice alerts are
public, as published practices are.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway import rules
from gateway.auth import Principal, Role
from gateway.live import BadCursor, Delivery
from gateway.rules import BadArgument
from gateway.schema.context import Context, Loaders
from gateway.schema.practices import Practice
from gateway.schema.types import Need, Organisation, Partnership, Reason, need, organisation
from pspx.events.exchange import PracticePublished
from pspx.events.matching import MatchFound, ShortlistRanked
from pspx.events.registry import PartnershipEvent


@strawberry.type(description="A partner ranks above the alert threshold for an open need")
class MatchAlert:
    cursor: str
    need_id: str
    commissioner_id: str
    partner_id: str
    score: float
    reasons: list[Reason]
    trigger: str = strawberry.field(
        description="partner: a new or changed partner; need: a new need"
    )
    occurred_at: datetime

    @strawberry.field
    async def need(self, info: Info[Context, None]) -> Need | None:
        return await need(info, self.need_id)

    @strawberry.field
    async def partner(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.partner_id)


@strawberry.type(description="A partner on a shortlist, and why it ranks there")
class ShortlistEntry:
    rank: int
    partner_id: str
    score: float
    reasons: list[Reason]

    @strawberry.field
    async def partner(self, info: Info[Context, None]) -> Organisation | None:
        return await organisation(info, self.partner_id)


@strawberry.type(description="A need's shortlist was ranked: when it is posted and when it changes")
class ShortlistAlert:
    cursor: str
    need_id: str
    entries: list[ShortlistEntry]
    occurred_at: datetime


@strawberry.type(description="Something happened to a partnership you are part of")
class PartnershipAlert:
    cursor: str
    event_type: str = strawberry.field(description="e.g. partnership.stage_changed")
    partnership_id: str
    need_id: str
    occurred_at: datetime

    @strawberry.field(description="The partnership as it is now")
    async def partnership(self, info: Info[Context, None]) -> Partnership | None:
        found = await info.context.loaders.partnership.load(self.partnership_id)
        return Partnership.from_json(found) if found else None


@strawberry.type(description="A practice was published")
class PracticeAlert:
    cursor: str
    practice_id: str
    title: str
    summary: str
    service_area: str | None
    regions: list[str]
    author_id: str
    author_name: str
    occurred_at: datetime

    @strawberry.field
    async def practice(self, info: Info[Context, None]) -> Practice | None:
        found = await info.context.loaders.practice.load(self.practice_id)
        return Practice.from_json(found) if found else None


def _reasons(event: MatchFound) -> list[Reason]:
    return [Reason(term=t.term, weight=t.weight) for t in event.terms]


async def _alerts(info: Info[Context, None], after: str | None) -> AsyncGenerator[Delivery, None]:
    """The hub's deliveries, each with fresh DataLoaders so no alert shows stale data."""
    hub = info.context.hub
    try:
        async for delivery in hub.listen(after):
            info.context.loaders = Loaders(info.context.services)
            yield delivery
    except BadCursor as exc:
        raise BadArgument(str(exc)) from exc


def _sees_need(viewer: Principal, commissioner_id: str) -> bool:
    return viewer.role is Role.OPERATOR or viewer.org_id == commissioner_id


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="A new or changed partner now ranks for one of your needs (commissioners)"
    )
    async def match_found(
        self, info: Info[Context, None], need_id: str | None = None, after: str | None = None
    ) -> AsyncGenerator[MatchAlert, None]:
        viewer = rules.signed_in(await info.context.viewer())
        async for d in _alerts(info, after):
            e = d.event
            if not isinstance(e, MatchFound) or not _sees_need(viewer, e.commissioner_id):
                continue
            if need_id is not None and e.need_id != need_id:
                continue
            yield _match(d, e)

    @strawberry.subscription(description="A need now ranks your organisation highly (partners)")
    async def need_fits(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[MatchAlert, None]:
        viewer = rules.partner(await info.context.viewer())
        async for d in _alerts(info, after):
            e = d.event
            if isinstance(e, MatchFound) and e.partner_id == viewer.org_id:
                yield _match(d, e)

    @strawberry.subscription(description="One of your needs' shortlists was ranked")
    async def shortlist_ready(
        self, info: Info[Context, None], need_id: str | None = None, after: str | None = None
    ) -> AsyncGenerator[ShortlistAlert, None]:
        viewer = rules.signed_in(await info.context.viewer())
        async for d in _alerts(info, after):
            e = d.event
            if not isinstance(e, ShortlistRanked) or not _sees_need(viewer, e.commissioner_id):
                continue
            if need_id is not None and e.need_id != need_id:
                continue
            yield ShortlistAlert(
                cursor=d.cursor,
                need_id=e.need_id,
                entries=[
                    ShortlistEntry(
                        rank=n,
                        partner_id=x.partner_id,
                        score=x.score,
                        reasons=[Reason(term=t.term, weight=t.weight) for t in x.terms],
                    )
                    for n, x in enumerate(e.entries, start=1)
                ],
                occurred_at=d.envelope.occurred_at,
            )

    @strawberry.subscription(description="A partnership you are part of changed")
    async def partnership_changed(
        self, info: Info[Context, None], after: str | None = None
    ) -> AsyncGenerator[PartnershipAlert, None]:
        viewer = rules.signed_in(await info.context.viewer())
        async for d in _alerts(info, after):
            e = d.event
            if not isinstance(e, PartnershipEvent):
                continue
            if viewer.role is not Role.OPERATOR and viewer.org_id not in {
                e.commissioner_id,
                *e.partner_ids,
            }:
                continue
            yield PartnershipAlert(
                cursor=d.cursor,
                event_type=e.event_type,
                partnership_id=e.id,
                need_id=e.need_id,
                occurred_at=d.envelope.occurred_at,
            )

    @strawberry.subscription(description="A practice was published, in a service area or region")
    async def practice_published(
        self,
        info: Info[Context, None],
        service_area: str | None = None,
        region: str | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[PracticeAlert, None]:
        async for d in _alerts(info, after):
            e = d.event
            if not isinstance(e, PracticePublished):
                continue
            p = e.practice
            if service_area is not None and p.service_area != service_area:
                continue
            if region is not None and region not in p.regions:
                continue
            yield PracticeAlert(
                cursor=d.cursor,
                practice_id=e.id,
                title=p.title,
                summary=p.summary,
                service_area=p.service_area,
                regions=p.regions,
                author_id=p.author_id,
                author_name=p.author_name,
                occurred_at=d.envelope.occurred_at,
            )


def _match(d: Delivery, e: MatchFound) -> MatchAlert:
    return MatchAlert(
        cursor=d.cursor,
        need_id=e.need_id,
        commissioner_id=e.commissioner_id,
        partner_id=e.partner_id,
        score=e.score,
        reasons=_reasons(e),
        trigger=e.trigger,
        occurred_at=d.envelope.occurred_at,
    )
