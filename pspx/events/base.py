"""The envelope every event travels in, and the catalogue of event types."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from pspx import topics


class Event(BaseModel):
    """A payload: a small immutable record, named in the past tense.

    Readers are tolerant (unknown fields are ignored) so producers can add fields
    without a new version; removing or changing a field means ``version + 1``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            if cls.event_type in CATALOGUE:
                raise TypeError(f"event type {cls.event_type} is registered twice")
            if cls.topic not in topics.ALL:
                raise TypeError(f"{cls.event_type}: unknown topic {cls.topic}")
            CATALOGUE[cls.event_type] = cls


CATALOGUE: dict[str, type[Event]] = {}


# Quantities with the limits every contract and API input names: far above any real value,
# and inside what MongoDB stores (8-byte integers, finite doubles).
Count = Annotated[int, Field(ge=0, le=1_000_000_000, description="A count, at most 10^9")]
Money = Annotated[int, Field(ge=0, le=10**12, description="Whole pounds, at most 10^12")]
Measure = Annotated[float, Field(allow_inf_nan=False, ge=-(10**12), le=10**12)]


class Payload(BaseModel):
    """A part of an event's payload. Tolerant like ``Event``: unknown fields are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class UnknownEventType(ValueError):
    """An event type this reader does not know, as a newer producer may publish: skip it."""


class NewerVersion(ValueError):
    """A known event type at a schema version newer than this reader knows: dead-letter it."""


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str = Field(min_length=1)
    version: int = Field(ge=1)
    occurred_at: datetime
    source: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1)
    aggregate_id: str = Field(min_length=1)
    aggregate_version: int = Field(ge=1)
    payload: dict[str, Any]

    def event(self) -> Event:
        """The typed payload; raises UnknownEventType, NewerVersion or a ValidationError."""
        kind = CATALOGUE.get(self.event_type)
        if kind is None:
            raise UnknownEventType(f"unknown event type {self.event_type!r}")
        if self.version > kind.version:
            raise NewerVersion(
                f"{self.event_type} version {self.version} is newer than this reader's "
                f"{kind.version}"
            )
        return kind.model_validate(self.payload)

    def headers(self) -> dict[str, str]:
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "version": str(self.version),
            "correlation_id": self.correlation_id,
            "source": self.source,
        }


def new_envelope(
    event: Event,
    *,
    aggregate_id: str,
    aggregate_version: int,
    source: str,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    return Envelope(
        event_type=event.event_type,
        version=event.version,
        occurred_at=occurred_at or datetime.now(UTC),
        source=source,
        correlation_id=correlation_id or str(uuid.uuid4()),
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        payload=event.model_dump(mode="json"),
    )
