"""Events the registry publishes: organisations, needs, partnerships.

Organisation and need events carry the whole current state (event-carried
state transfer), so a reader that keeps only the newest version is complete.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pspx import topics
from pspx.events.base import Event

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


class Size(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    income_band: str | None = Field(None, max_length=50, examples=["£100k-£500k"])
    staff: int | None = Field(None, ge=0)
    volunteers: int | None = Field(None, ge=0)


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=50)


class OrganisationProfile(BaseModel):
    """What an organisation says about itself: the registry's unit of record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


class NeedDetails(BaseModel):
    """A commissioner's service need as it is published."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Text
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)
    ]
    service_area: Text | None = None
    regions: list[Text] = Field(default_factory=list, max_length=50)
    outcomes: list[Text] = Field(default_factory=list, max_length=50)
    budget_min_gbp: int | None = Field(None, ge=0)
    budget_max_gbp: int | None = Field(None, ge=0)
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


class PartnershipProposed(Event):
    event_type = "partnership.proposed"
    topic = topics.PARTNERSHIPS

    id: str
    need_id: str
    commissioner_id: str
    partner_ids: list[str]
    stage: Stage
    recommendation: str
    proposed_at: datetime


class PartnershipStageChanged(Event):
    event_type = "partnership.stage_changed"
    topic = topics.PARTNERSHIPS

    id: str
    need_id: str
    commissioner_id: str
    partner_ids: list[str]
    from_stage: Stage
    to_stage: Stage
    note: str
    changed_at: datetime
