"""The manifest: every service, its module, its port setting, the topics it produces and
the subscriptions it consumes with. The stack, the CLI, ``pspx docs`` and the documents
read it; each service is built from its own entry.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import FastAPI

from pspx import topics
from pspx.settings import Settings
from pspx.spec import ServiceSpec, Subscription

REGISTRY = ServiceSpec(
    name="registry",
    module="services.registry.app",
    port_setting="registry_port",
    summary="organisations, needs, partnerships and the VSOPP/PSP route check",
    produces=(topics.ORGANISATIONS, topics.NEEDS, topics.PARTNERSHIPS),
)
EXCHANGE = ServiceSpec(
    name="exchange",
    module="services.exchange.app",
    port_setting="exchange_port",
    summary="good practice, endorsements and comments, with its own replica of organisations",
    produces=(topics.PRACTICES,),
    consumes=(Subscription("organisations", (topics.ORGANISATIONS,), group="exchange"),),
)
MATCHING = ServiceSpec(
    name="matching",
    module="services.matching.app",
    port_setting="matching_port",
    summary="TF-IDF ranking of partners and practices, held in memory and rebuilt from the log",
    produces=(topics.MATCHES,),
    consumes=(
        Subscription("index", (topics.ORGANISATIONS, topics.NEEDS, topics.PRACTICES), group=None),
        Subscription("rank", (topics.NEEDS,), group="matching"),
    ),
)

GATEWAY = ServiceSpec(
    name="gateway",
    module="gateway.app",
    port_setting="gateway_port",
    summary="the public GraphQL API: sign-in, authorisation, and live alerts from the topics",
    consumes=(
        Subscription(
            "live",
            (topics.MATCHES, topics.PARTNERSHIPS, topics.PRACTICES),
            group=None,
            start="latest",
        ),
    ),
    public=True,
)

# In start order: producers first, so consumers find topics with history when they start.
SERVICES: tuple[ServiceSpec, ...] = (REGISTRY, EXCHANGE, MATCHING, GATEWAY)


def spec(name: str) -> ServiceSpec:
    for s in SERVICES:
        if s.name == name:
            return s
    raise LookupError(f"no service {name!r}; the services are {', '.join(names())}")


def names() -> list[str]:
    return [s.name for s in SERVICES]


def producers() -> dict[str, tuple[str, ...]]:
    return {s.name: s.produces for s in SERVICES if s.produces}


def build(name: str, settings: Settings, **options: Any) -> FastAPI:
    """The named service's ASGI app, built from its manifest entry (``options`` go to the
    service's own ``build``, as tests use to put in a stand-in HTTP client)."""
    entry = spec(name)
    app: FastAPI = importlib.import_module(entry.module).build(entry, settings, **options)
    return app
