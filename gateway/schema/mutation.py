"""A mutation for every command the services offer. Each answers its record or a typed
problem (``errors``); who may run it is checked first (``gateway.rules``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway import rules
from gateway.schema.context import Context, Json
from gateway.schema.errors import Problems, attempt
from gateway.schema.practices import Comment, Practice
from gateway.schema.query import RouteAnswersInput
from gateway.schema.types import (
    Need,
    NeedStatusEnum,
    Organisation,
    OrgKindEnum,
    Partnership,
    StageEnum,
)
from pspx.events.registry import NeedStatus, OrgKind, Stage

OrganisationResult = Annotated[Organisation | Problems, strawberry.union("OrganisationResult")]
NeedResult = Annotated[Need | Problems, strawberry.union("NeedResult")]
PartnershipResult = Annotated[Partnership | Problems, strawberry.union("PartnershipResult")]
PracticeResult = Annotated[Practice | Problems, strawberry.union("PracticeResult")]
CommentResult = Annotated[Comment | Problems, strawberry.union("CommentResult")]

TEXT = "1 to 200 characters"
LIST = "at most 50 entries of 1 to 200 characters"


@strawberry.input
class SizeInput:
    income_band: str | None = strawberry.field(default=None, description="At most 50 characters")
    staff: int | None = strawberry.field(default=None, description="0 to 10^9")
    volunteers: int | None = strawberry.field(default=None, description="0 to 10^9")


@strawberry.input
class ContactInput:
    email: str | None = strawberry.field(default=None, description="An email address, ≤ 200")
    phone: str | None = strawberry.field(default=None, description="At most 50 characters")


@strawberry.input(description="An organisation's profile")
class ProfileInput:
    name: str = strawberry.field(description=TEXT)
    kind: OrgKindEnum  # type: ignore[valid-type]
    alternate_names: list[str] = strawberry.field(default_factory=list, description=LIST)
    former_names: list[str] = strawberry.field(default_factory=list, description=LIST)
    description: str = strawberry.field(default="", description="At most 20,000 characters")
    activities: list[str] = strawberry.field(default_factory=list, description="At most 100")
    service_areas: list[str] = strawberry.field(default_factory=list, description="At most 100")
    regions: list[str] = strawberry.field(default_factory=list, description="At most 100")
    languages: list[str] = strawberry.field(
        default_factory=list, description="ISO 639 codes (2 or 3 letters), at most 20"
    )
    size: SizeInput | None = None
    contact: ContactInput | None = None
    website: str | None = strawberry.field(default=None, description="An http(s) URL, ≤ 500")

    def to_json(self) -> Json:
        data = strawberry.asdict(self)
        data["kind"] = OrgKind(self.kind).value
        return {k: v for k, v in data.items() if v is not None}


@strawberry.input(description="A service need")
class NeedInput:
    title: str = strawberry.field(description=TEXT)
    description: str = strawberry.field(description="1 to 20,000 characters")
    service_area: str | None = strawberry.field(default=None, description=TEXT)
    regions: list[str] = strawberry.field(default_factory=list, description=LIST)
    outcomes: list[str] = strawberry.field(default_factory=list, description=LIST)
    budget_min_gbp: int | None = strawberry.field(default=None, description="0 to 10^12 pounds")
    budget_max_gbp: int | None = strawberry.field(default=None, description="0 to 10^12 pounds")
    duration_months: int | None = strawberry.field(default=None, description="1 to 240")
    in_kind: list[str] = strawberry.field(default_factory=list, description=LIST)
    deadline: date | None = None

    def to_json(self) -> Json:
        data = strawberry.asdict(self)
        data["deadline"] = self.deadline.isoformat() if self.deadline else None
        return data


@strawberry.input(description="A line of the ledger: what your organisation puts in")
class ContributionInput:
    form: str = strawberry.field(description="money or in_kind")
    description: str = strawberry.field(description="1 to 500 characters")
    value_gbp: int = strawberry.field(description="Pounds, or the in-kind input's value; ≤ 10^12")


@strawberry.input
class QualityMeasureInput:
    name: str = strawberry.field(description=TEXT)
    value: float = strawberry.field(description="-10^12 to 10^12")


@strawberry.input(description="Outcome metrics as measured now")
class OutcomesInput:
    people_served: int | None = strawberry.field(default=None, description="0 to 10^9")
    cost_savings_gbp: int | None = strawberry.field(default=None, description="0 to 10^12")
    quality_measures: list[QualityMeasureInput] = strawberry.field(default_factory=list)

    def to_json(self) -> Json:
        return {
            "people_served": self.people_served,
            "cost_savings_gbp": self.cost_savings_gbp,
            "quality_measures": {m.name: m.value for m in self.quality_measures},
        }


@strawberry.input
class MeasureInput:
    name: str = strawberry.field(description=TEXT)
    value: float
    unit: str = strawberry.field(default="", description="At most 50 characters")


@strawberry.input
class EvaluationInput:
    title: str = strawberry.field(description=TEXT)
    url: str = strawberry.field(description="An http(s) URL, ≤ 500")


@strawberry.input
class EvidenceInput:
    people_served: int | None = strawberry.field(default=None, description="0 to 10^9")
    cost_savings_gbp: int | None = strawberry.field(default=None, description="0 to 10^12")
    quality_measures: list[MeasureInput] = strawberry.field(default_factory=list)
    evaluations: list[EvaluationInput] = strawberry.field(default_factory=list)


@strawberry.input(description="A practice as its author writes it")
class PracticeInput:
    title: str = strawberry.field(description=TEXT)
    summary: str = strawberry.field(description="1 to 1,000 characters")
    body: str = strawberry.field(description="Markdown, 1 to 100,000 characters")
    service_area: str | None = strawberry.field(default=None, description=TEXT)
    regions: list[str] = strawberry.field(default_factory=list, description=LIST)
    outcomes: list[str] = strawberry.field(default_factory=list, description=LIST)
    evidence: EvidenceInput | None = None
    tags: list[str] = strawberry.field(default_factory=list, description="At most 20")

    def to_json(self) -> Json:
        data = strawberry.asdict(self)
        if data["evidence"] is None:
            del data["evidence"]
        return data


async def _partnership(info: Info[Context, None], partnership_id: str) -> Json:
    """The partnership, if the viewer is a party to it."""
    found = await info.context.loaders.partnership.load(partnership_id)
    if found is None:
        raise rules.Denied(f"no partnership {partnership_id} you are part of")
    rules.party(await info.context.viewer(), found)
    return found


@strawberry.type
class Mutation:
    # -- organisations ------------------------------------------------------------------

    @strawberry.mutation(description="Register an organisation (operators)")
    async def register_organisation(
        self, info: Info[Context, None], org_id: str, profile: ProfileInput
    ) -> OrganisationResult:
        async def run() -> Organisation:
            rules.operator(await info.context.viewer())
            registry = info.context.services.registry
            return Organisation.from_json(await registry.register(org_id, profile.to_json()))

        return await attempt(run)

    @strawberry.mutation(description="Change your organisation's profile")
    async def update_organisation(
        self, info: Info[Context, None], org_id: str, expected_version: int, profile: ProfileInput
    ) -> OrganisationResult:
        async def run() -> Organisation:
            rules.own(await info.context.viewer(), org_id)
            registry = info.context.services.registry
            found = await registry.update(org_id, expected_version, profile.to_json())
            return Organisation.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Remove your organisation from the registry")
    async def remove_organisation(
        self, info: Info[Context, None], org_id: str, expected_version: int
    ) -> OrganisationResult:
        async def run() -> Organisation:
            rules.own(await info.context.viewer(), org_id)
            found = await info.context.services.registry.remove(org_id, expected_version)
            return Organisation.from_json(found)

        return await attempt(run)

    # -- needs ----------------------------------------------------------------------------

    @strawberry.mutation(description="Post a need for your organisation (commissioners)")
    async def post_need(self, info: Info[Context, None], details: NeedInput) -> NeedResult:
        async def run() -> Need:
            user = rules.commissioner(await info.context.viewer())
            found = await info.context.services.registry.post_need(user.org_id, details.to_json())
            return Need.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Revise one of your needs (its commissioner)")
    async def revise_need(
        self, info: Info[Context, None], need_id: str, expected_version: int, details: NeedInput
    ) -> NeedResult:
        async def run() -> Need:
            await _own_need(info, need_id)
            registry = info.context.services.registry
            return Need.from_json(
                await registry.revise_need(need_id, expected_version, details.to_json())
            )

        return await attempt(run)

    @strawberry.mutation(description="Move one of your needs: shortlisting, co-design, closed")
    async def move_need(
        self,
        info: Info[Context, None],
        need_id: str,
        expected_version: int,
        status: NeedStatusEnum,  # type: ignore[valid-type]
    ) -> NeedResult:
        async def run() -> Need:
            await _own_need(info, need_id)
            registry = info.context.services.registry
            found = await registry.move_need(need_id, expected_version, NeedStatus(status).value)
            return Need.from_json(found)

        return await attempt(run)

    # -- partnerships ---------------------------------------------------------------------

    @strawberry.mutation(description="Propose a partnership for one of your needs")
    async def propose_partnership(
        self,
        info: Info[Context, None],
        need_id: str,
        partner_ids: list[str],
        route_answers: RouteAnswersInput | None = None,
        note: str = "",
    ) -> PartnershipResult:
        async def run() -> Partnership:
            await _own_need(info, need_id)
            answers = (route_answers or RouteAnswersInput()).to_json()
            registry = info.context.services.registry
            return Partnership.from_json(
                await registry.propose(need_id, partner_ids, answers, note)
            )

        return await attempt(run)

    @strawberry.mutation(description="Move a partnership you are part of to another stage")
    async def move_partnership(
        self,
        info: Info[Context, None],
        partnership_id: str,
        expected_version: int,
        to_stage: StageEnum,  # type: ignore[valid-type]
        note: str = "",
    ) -> PartnershipResult:
        async def run() -> Partnership:
            await _partnership(info, partnership_id)
            registry = info.context.services.registry
            found = await registry.move_partnership(
                partnership_id, expected_version, Stage(to_stage).value, note
            )
            return Partnership.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Answer the route check again")
    async def recheck_route(
        self,
        info: Info[Context, None],
        partnership_id: str,
        expected_version: int,
        answers: RouteAnswersInput,
    ) -> PartnershipResult:
        async def run() -> Partnership:
            await _partnership(info, partnership_id)
            registry = info.context.services.registry
            found = await registry.recheck_route(
                partnership_id, expected_version, answers.to_json()
            )
            return Partnership.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Record what your organisation puts into a partnership")
    async def add_contribution(
        self,
        info: Info[Context, None],
        partnership_id: str,
        expected_version: int,
        contribution: ContributionInput,
    ) -> PartnershipResult:
        async def run() -> Partnership:
            await _partnership(info, partnership_id)
            user = rules.signed_in(await info.context.viewer())
            line = {**strawberry.asdict(contribution), "party_id": user.org_id}
            registry = info.context.services.registry
            found = await registry.add_contribution(partnership_id, expected_version, line)
            return Partnership.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Record a partnership's outcome metrics as measured now")
    async def record_outcomes(
        self,
        info: Info[Context, None],
        partnership_id: str,
        expected_version: int,
        outcomes: OutcomesInput,
    ) -> PartnershipResult:
        async def run() -> Partnership:
            await _partnership(info, partnership_id)
            registry = info.context.services.registry
            found = await registry.record_outcomes(
                partnership_id, expected_version, outcomes.to_json()
            )
            return Partnership.from_json(found)

        return await attempt(run)

    # -- practices ------------------------------------------------------------------------

    @strawberry.mutation(description="Write a practice for your organisation (partners)")
    async def draft_practice(
        self, info: Info[Context, None], practice: PracticeInput, publish: bool = False
    ) -> PracticeResult:
        async def run() -> Practice:
            user = rules.partner(await info.context.viewer())
            exchange = info.context.services.exchange
            return Practice.from_json(
                await exchange.draft(user.org_id, practice.to_json(), publish)
            )

        return await attempt(run)

    @strawberry.mutation(description="Revise one of your organisation's practices")
    async def revise_practice(
        self,
        info: Info[Context, None],
        practice_id: str,
        expected_version: int,
        practice: PracticeInput,
    ) -> PracticeResult:
        async def run() -> Practice:
            user = rules.signed_in(await info.context.viewer())
            exchange = info.context.services.exchange
            found = await exchange.revise(
                practice_id, user.org_id, expected_version, practice.to_json()
            )
            return Practice.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Publish one of your organisation's drafts")
    async def publish_practice(
        self, info: Info[Context, None], practice_id: str, expected_version: int
    ) -> PracticeResult:
        async def run() -> Practice:
            user = rules.signed_in(await info.context.viewer())
            exchange = info.context.services.exchange
            found = await exchange.publish(practice_id, user.org_id, expected_version)
            return Practice.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Withdraw one of your organisation's practices")
    async def withdraw_practice(
        self, info: Info[Context, None], practice_id: str, expected_version: int
    ) -> PracticeResult:
        async def run() -> Practice:
            user = rules.signed_in(await info.context.viewer())
            exchange = info.context.services.exchange
            found = await exchange.withdraw(practice_id, user.org_id, expected_version)
            return Practice.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Endorse a practice for your organisation (commissioners)")
    async def endorse_practice(self, info: Info[Context, None], practice_id: str) -> PracticeResult:
        async def run() -> Practice:
            user = rules.commissioner(await info.context.viewer())
            found = await info.context.services.exchange.endorse(practice_id, user.org_id)
            return Practice.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Withdraw your organisation's endorsement")
    async def withdraw_endorsement(
        self, info: Info[Context, None], practice_id: str
    ) -> PracticeResult:
        async def run() -> Practice:
            user = rules.commissioner(await info.context.viewer())
            found = await info.context.services.exchange.unendorse(practice_id, user.org_id)
            return Practice.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Comment on a practice, or reply to a comment")
    async def post_comment(
        self,
        info: Info[Context, None],
        practice_id: str,
        body: str,
        parent_id: str | None = None,
    ) -> CommentResult:
        async def run() -> Comment:
            user = rules.signed_in(await info.context.viewer())
            exchange = info.context.services.exchange
            return Comment.from_json(
                await exchange.comment(practice_id, user.org_id, body, parent_id)
            )

        return await attempt(run)

    @strawberry.mutation(description="Edit your comment within the edit window")
    async def edit_comment(
        self, info: Info[Context, None], comment_id: str, expected_version: int, body: str
    ) -> CommentResult:
        async def run() -> Comment:
            user = rules.signed_in(await info.context.viewer())
            exchange = info.context.services.exchange
            found = await exchange.edit_comment(comment_id, user.org_id, expected_version, body)
            return Comment.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Ask a moderator to look at a comment")
    async def flag_comment(
        self, info: Info[Context, None], comment_id: str, reason: str
    ) -> CommentResult:
        async def run() -> Comment:
            user = rules.signed_in(await info.context.viewer())
            found = await info.context.services.exchange.flag(comment_id, user.org_id, reason)
            return Comment.from_json(found)

        return await attempt(run)

    @strawberry.mutation(description="Hide a comment from readers (operators)")
    async def hide_comment(
        self, info: Info[Context, None], comment_id: str, reason: str
    ) -> CommentResult:
        async def run() -> Comment:
            user = rules.operator(await info.context.viewer())
            found = await info.context.services.exchange.hide(comment_id, user.subject, reason)
            return Comment.from_json(found)

        return await attempt(run)


async def _own_need(info: Info[Context, None], need_id: str) -> Json:
    """The need, if the viewer is a commissioner acting for the need's commissioner."""
    viewer = rules.commissioner(await info.context.viewer())
    found = await info.context.loaders.need.load(need_id)
    if found is None:
        raise rules.Denied(f"no need {need_id} of yours")
    rules.commissioner(viewer, found["commissioner_id"])
    return found
