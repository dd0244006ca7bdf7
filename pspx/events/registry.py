"""Events the registry publishes: organisations, needs, partnerships.

Organisation and need events carry the whole current state (event-carried
state transfer), so a reader that keeps only the newest version is complete.
Every partnership event names the need and every party, so a reader can tell
who may see it without asking the registry.

These are the contracts readers validate against, so they are tolerant:
unknown fields are ignored. The registry's HTTP API refuses unknown fields
with its own input models (``services/registry/api.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from pspx import topics
from pspx.events.base import Count, Event, Measure, Money, Payload

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
# org-id.guide identifiers: a scheme (GB-CHC, GB-SC, GB-LAE, ...) then the number.
OrgId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Z]{2,3}(-[A-Z0-9]{2,10})?-[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]


class OrgKind(StrEnum):
    PUBLIC_BODY = "public_body"
    CHARITY = "charity"
    SOCIAL_ENTERPRISE = "social_enterprise"
    VOLUNTARY = "voluntary"
    COMMUNITY = "community"
    COOPERATIVE = "cooperative"
    PRIVATE = "private"
    OTHER = "other"

    @property
    def is_third_sector(self) -> bool:
        return self in THIRD_SECTOR


THIRD_SECTOR = frozenset(
    {
        OrgKind.CHARITY,
        OrgKind.SOCIAL_ENTERPRISE,
        OrgKind.VOLUNTARY,
        OrgKind.COMMUNITY,
        OrgKind.COOPERATIVE,
        OrgKind.OTHER,
    }
)


class Size(Payload):
    income_band: str | None = Field(None, max_length=50, examples=["£100k-£500k"])
    staff: Count | None = None
    volunteers: Count | None = None


class SizeBand(StrEnum):
    """The UK's standard size bands, by paid staff."""

    MICRO = "micro"  # 0 to 9
    SMALL = "small"  # 10 to 49
    MEDIUM = "medium"  # 50 to 249
    LARGE = "large"  # 250 or more


def size_band(staff: int | None) -> SizeBand | None:
    """An organisation's size band from its paid staff; none without a staff figure.

    Derived, not stored: the bands are a reading of the staff a profile gives, so they
    never disagree with it (volunteers and income do not count)."""
    if staff is None:
        return None
    if staff >= 250:
        return SizeBand.LARGE
    if staff >= 50:
        return SizeBand.MEDIUM
    if staff >= 10:
        return SizeBand.SMALL
    return SizeBand.MICRO


class Contact(Payload):
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=50)


class OrganisationProfile(Payload):
    """What an organisation says about itself: the registry's unit of record."""

    name: Text
    kind: OrgKind
    alternate_names: list[Text] = Field(default_factory=list, max_length=50)
    former_names: list[Text] = Field(default_factory=list, max_length=50)
    description: LongText = ""
    activities: list[Text] = Field(default_factory=list, max_length=100)
    service_areas: list[Text] = Field(default_factory=list, max_length=100)
    regions: list[Text] = Field(default_factory=list, max_length=100)
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]] = Field(
        default_factory=list, max_length=20
    )
    size: Size = Field(default_factory=Size)
    contact: Contact = Field(default_factory=Contact)
    website: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=500)] | None = (
        None
    )


class OrganisationRegistered(Event):
    event_type = "organisation.registered"
    topic = topics.ORGANISATIONS

    id: str
    profile: OrganisationProfile


class OrganisationUpdated(Event):
    event_type = "organisation.updated"
    topic = topics.ORGANISATIONS

    id: str
    profile: OrganisationProfile


class OrganisationRemoved(Event):
    event_type = "organisation.removed"
    topic = topics.ORGANISATIONS

    id: str
    name: str


class NeedStatus(StrEnum):
    OPEN = "open"
    SHORTLISTING = "shortlisting"
    CO_DESIGN = "co-design"
    CLOSED = "closed"


class NeedDetails(Payload):
    """A commissioner's service need as it is published."""

    title: Text
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)
    ]
    service_area: Text | None = None
    regions: list[Text] = Field(default_factory=list, max_length=50)
    outcomes: list[Text] = Field(default_factory=list, max_length=50)
    budget_min_gbp: Money | None = None
    budget_max_gbp: Money | None = None
    duration_months: int | None = Field(None, ge=1, le=240)
    in_kind: list[Text] = Field(default_factory=list, max_length=50)
    deadline: date | None = None


class NeedState(NeedDetails):
    commissioner_id: str
    status: NeedStatus


class NeedPosted(Event):
    event_type = "need.posted"
    topic = topics.NEEDS

    id: str
    need: NeedState


class NeedUpdated(Event):
    event_type = "need.updated"
    topic = topics.NEEDS

    id: str
    need: NeedState


class NeedClosed(Event):
    event_type = "need.closed"
    topic = topics.NEEDS

    id: str
    need: NeedState


class Stage(StrEnum):
    PROPOSED = "proposed"
    CO_PLANNING = "co-planning"
    PILOT = "pilot"
    COMMISSIONED = "commissioned"
    CLOSED = "closed"
    DECLINED = "declined"


class PartnershipEvent(Event):
    """What every partnership event carries: the partnership, its need and its parties."""

    topic = topics.PARTNERSHIPS

    id: str
    need_id: str
    commissioner_id: str
    partner_ids: list[str]


class PartnershipProposed(PartnershipEvent):
    event_type = "partnership.proposed"

    stage: Stage
    recommendation: str
    proposed_at: datetime


class PartnershipStageChanged(PartnershipEvent):
    event_type = "partnership.stage_changed"

    from_stage: Stage
    to_stage: Stage
    note: str
    changed_at: datetime


class RouteChecked(PartnershipEvent):
    """The route check was answered again; ``missing`` lists the questions still open."""

    event_type = "partnership.route_checked"

    recommendation: str
    missing: list[str]
    checked_at: datetime


class ContributionRecorded(PartnershipEvent):
    """A line of the two-sided ledger: what one party puts in, in money or in kind."""

    event_type = "partnership.contribution_recorded"

    party_id: str
    form: Literal["money", "in_kind"]
    description: str
    value_gbp: Money
    recorded_at: datetime


class OutcomesRecorded(PartnershipEvent):
    """The partnership's outcome metrics as measured at ``recorded_at``."""

    event_type = "partnership.outcomes_recorded"

    people_served: Count | None
    cost_savings_gbp: Money | None
    quality_measures: dict[str, Measure]
    recorded_at: datetime
