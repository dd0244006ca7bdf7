"""What the composition root says about a service: the type of one manifest entry.

The manifest itself (``stack/manifest.py``) is the one place that lists the
services, the topics each produces and the subscriptions each consumes with.
A service is built from its entry, so its code never restates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pspx.settings import Settings


@dataclass(frozen=True)
class Subscription:
    """Topics a service reads, and how.

    ``group`` set: a consumer group, so each event is handled once across the
    service's replicas, offsets committed after handling. ``group=None``: every
    replica reads the topics itself, from ``start``, committing nothing (the way
    to hold the whole log in memory, or to fan out live events).
    """

    name: str  # names the subscriber in logs, metrics and the AsyncAPI document
    topics: tuple[str, ...]
    group: str | None
    start: Literal["earliest", "latest"] = "earliest"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str  # the module whose ``build(spec, settings)`` makes the service's ASGI app
    port_setting: str  # the Settings field holding its HTTP port
    summary: str
    produces: tuple[str, ...] = ()
    consumes: tuple[Subscription, ...] = ()
    public: bool = False  # reachable from outside (the gateway); the rest stay internal

    def subscription(self, name: str) -> Subscription:
        for sub in self.consumes:
            if sub.name == name:
                return sub
        raise LookupError(f"the manifest gives {self.name} no subscription named {name!r}")

    def port(self, settings: Settings) -> int:
        port: int = getattr(settings, self.port_setting)
        return port

    def url(self, settings: Settings) -> str:
        return settings.service_url(self.name)

    def entry(self, settings: Settings) -> str:
        """Where a person goes next: the web front end and GraphQL endpoint of the public
        entry, else the API docs."""
        url = self.url(settings)
        return f"web: {url}/, GraphQL: {url}/graphql" if self.public else f"API docs: {url}/docs"
