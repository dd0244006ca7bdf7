"""What the engine ranks: document schemas, documents and queries. Pure: no I/O.

A ``Schema`` says which text fields a kind of document has, how much each
counts and which facets filter it; ``partner_document`` and
``practice_document`` build the two kinds the service ranks, and
``need_query`` turns a need into a partner query.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Schema:
    """Which text fields a document has, how much each counts, and its facets.

    Field weights are repetition counts: a weight-2 field's terms are counted
    twice in the document's term frequencies (0 leaves the field out).
    """

    field_weights: Mapping[str, int]
    facets: tuple[str, ...]
    attachment_field: str | None = None


# Name and service areas count twice: measured on the dev set (docs/performance.md).
PARTNER_SCHEMA = Schema(
    field_weights={
        "name": 2,
        "alternate_names": 1,
        "description": 1,
        "activities": 1,
        "service_areas": 2,
        "practices": 1,
    },
    facets=("regions", "kind", "service_areas", "size"),
    attachment_field="practices",
)
PRACTICE_SCHEMA = Schema(
    field_weights={
        "title": 2,
        "summary": 1,
        "body": 1,
        "service_area": 2,
        "tags": 1,
        "author": 1,
    },
    facets=("regions", "service_area", "tags", "author"),
)


@dataclass(frozen=True)
class Document:
    """A rankable document: texts per field, facet values for filters, and
    attachments (keyed texts indexed under the schema's attachment field,
    e.g. a partner's published practices by practice id)."""

    id: str
    fields: Mapping[str, tuple[str, ...]]
    facets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attachments: Mapping[str, str] = field(default_factory=dict)


def partner_document(
    id: str,
    name: str,
    kind: str,
    description: str,
    *,
    activities: Sequence[str] = (),
    service_areas: Sequence[str] = (),
    regions: Sequence[str] = (),
    alternate_names: Sequence[str] = (),
    practices: Mapping[str, str] | None = None,
    size: str | None = None,
) -> Document:
    """A partner for ``PARTNER_SCHEMA``; ``practices`` maps practice id to text, ``size`` is
    its size band (none: no staff figure, so a size filter never matches it)."""
    return Document(
        id=id,
        fields={
            "name": (name,),
            "alternate_names": tuple(alternate_names),
            "description": (description,),
            "activities": tuple(activities),
            "service_areas": tuple(service_areas),
        },
        facets={
            "regions": tuple(regions),
            "kind": (kind,),
            "service_areas": tuple(service_areas),
            "size": (size,) if size else (),
        },
        attachments=dict(practices or {}),
    )


def practice_text(title: str, summary: str) -> str:
    """What a published practice contributes to its partner's document."""
    return f"{title}\n{summary}"


def practice_document(
    id: str,
    title: str,
    summary: str,
    body: str,
    *,
    service_area: str | None = None,
    regions: Sequence[str] = (),
    tags: Sequence[str] = (),
    author: str = "",
) -> Document:
    """A good-practice post for ``PRACTICE_SCHEMA``."""
    areas = (service_area,) if service_area else ()
    return Document(
        id=id,
        fields={
            "title": (title,),
            "summary": (summary,),
            "body": (body,),
            "service_area": areas,
            "tags": tuple(tags),
            "author": (author,),
        },
        facets={
            "regions": tuple(regions),
            "service_area": areas,
            "tags": tuple(tags),
            "author": (author,),
        },
    )


@dataclass(frozen=True)
class Query:
    """Free text plus filters: facet -> accepted values (a document must share
    at least one value with every facet given; case-insensitive)."""

    text: str
    filters: Mapping[str, Collection[str]] = field(default_factory=dict)


def need_query(
    title: str,
    description: str,
    outcomes: Sequence[str] = (),
    *,
    regions: Collection[str] = (),
    kinds: Collection[str] = (),
    service_areas: Collection[str] = (),
    sizes: Collection[str] = (),
) -> Query:
    """A partner query for a need; empty filter lists mean "any"."""
    filters = {"regions": regions, "kind": kinds, "service_areas": service_areas, "size": sizes}
    return Query(
        text="\n".join([title, description, *outcomes]),
        filters={facet: values for facet, values in filters.items() if values},
    )
