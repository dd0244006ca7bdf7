"""What every resolver of one request (or one subscription connection) gets: the services'
clients, DataLoaders that batch their reads, and the signed-in viewer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway import auth
from gateway.clients import ExchangeClient, MatchingClient, RegistryClient
from gateway.live import Hub
from gateway.rules import NotSignedIn
from pspx.events.registry import OrgKind

Json = dict[str, Any]  # a service's JSON answer


@dataclass
class Services:
    registry: RegistryClient
    exchange: ExchangeClient
    matching: MatchingClient
    verifier: auth.Verifier

    async def close(self) -> None:
        for client in (self.registry, self.exchange, self.matching):
            await client.close()


def _loader(read: Any) -> DataLoader[str, Json | None]:
    async def load(ids: list[str]) -> list[Json | None]:
        found = await read(list(dict.fromkeys(ids)))
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


class Loaders:
    """One batch read per service per tick of the event loop, whatever asks."""

    def __init__(self, services: Services) -> None:
        self.organisation = _loader(services.registry.organisations)
        self.need = _loader(services.registry.needs)
        self.partnership = _loader(services.registry.partnerships)
        self.practice = _loader(services.exchange.published)
        self.comment = _loader(services.exchange.comments_by_id)


class Context(BaseContext):
    def __init__(self, services: Services, hub: Hub, authorization: str | None = None) -> None:
        """``authorization`` is for callers in this process (the web pages), who hold the
        signed-in user's token themselves; clients send theirs with the request."""
        super().__init__()
        self.services = services
        self.hub = hub
        self._given_authorization = authorization
        self.loaders = Loaders(services)
        self.connection_params: dict[str, Any] | None = None
        self._viewer: auth.Principal | None = None
        self._signed_in = False

    def _authorization(self) -> str | None:
        if self._given_authorization is not None:
            return self._given_authorization
        if self.connection_params is not None:
            given = self.connection_params.get("authorization") or self.connection_params.get(
                "Authorization"
            )
            if isinstance(given, str):
                return given
        # Over HTTP the header; over a WebSocket the upgrade request's, if the client set one.
        return self.request.headers.get("authorization") if self.request is not None else None

    async def viewer(self) -> auth.Principal | None:
        """The signed-in user, or None without a token; a token that does not verify, or a
        role that does not fit the organisation, is refused (``NotSignedIn``)."""
        if self._signed_in:
            return self._viewer
        try:
            token = auth.bearer(self._authorization())
            if token is not None:
                principal = await self.services.verifier.verify(token)
                found = await self.loaders.organisation.load(principal.org_id)
                kind = OrgKind(found["profile"]["kind"]) if found else None
                auth.check_fits(principal, kind)
                self._viewer = principal
        except auth.SignInRefused as exc:
            raise NotSignedIn(str(exc)) from exc
        self._signed_in = True
        return self._viewer
