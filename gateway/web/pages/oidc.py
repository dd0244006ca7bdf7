"""Signing in through the organisation's OpenID Connect provider: the authorization code flow
with PKCE (Authlib's client), ending in the same session as every other sign-in.

The browser goes to the provider carrying a fresh state, nonce and the challenge of a code
verifier kept in the session; the provider sends it back with a code, which the gateway
exchanges, with the verifier, for tokens. The ID token proves this sign-in (its nonce); the
access token is what every page then passes to the GraphQL schema, which verifies it on each
request as it does any API client's.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.auth import OidcVerifier, SignInRefused
from gateway.web.pages import session, signin
from gateway.web.pages.render import N_
from pspx.settings import Settings

PENDING = "oidc_pending"  # the session key of a sign-in begun and not yet finished
SCOPE = "openid profile email"
TIMEOUT_S = 10.0
UNREACHABLE = N_("Your organisation's sign-in service could not be reached. Try again later.")
NOT_STARTED_HERE = N_("This sign-in was not started here, or it has expired. Start again.")


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str


class Provider:
    """The provider at ``oidc_issuer``: where to send the browser, and where to trade a code."""

    def __init__(self, settings: Settings, verifier: OidcVerifier) -> None:
        self.settings = settings
        self.verifier = verifier
        self._endpoints: Endpoints | None = None

    async def endpoints(self) -> Endpoints:
        """From the provider's discovery document, read once."""
        if self._endpoints is None:
            url = f"{self.settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
                    response = await http.get(url)
                    response.raise_for_status()
                    found = response.json()
                self._endpoints = Endpoints(
                    found["authorization_endpoint"], found["token_endpoint"]
                )
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                raise SignInRefused(UNREACHABLE) from None
        return self._endpoints

    def client(self, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self.settings.oidc_client_secret or None
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT_S,
        )

    async def exchange(self, code: str, code_verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The provider's tokens for ``code``; refused when it will not give them."""
        endpoints = await self.endpoints()
        try:
            async with self.client(redirect_uri) as client:
                tokens: dict[str, Any] = await client.fetch_token(
                    endpoints.token,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
        except OAuthError as exc:
            raise SignInRefused(f"the sign-in service refused the sign-in: {exc}") from None
        except httpx.HTTPError:
            raise SignInRefused(UNREACHABLE) from None
        return tokens


def provider(request: Request) -> Provider | None:
    found: Provider | None = request.app.state.provider
    return found


def callback_url(request: Request) -> str:
    base = request.app.state.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/sign-in/callback"


async def start(request: Request) -> Response:
    """Off to the provider, with what the way back will be checked against kept here."""
    chosen = provider(request)
    if chosen is None:
        return RedirectResponse("/sign-in", status_code=303)
    try:
        endpoints = await chosen.endpoints()
    except SignInRefused as exc:
        return signin.sign_in_form(request, error=str(exc), status=503)
    code_verifier, nonce = generate_token(64), generate_token(32)
    async with chosen.client(callback_url(request)) as client:
        url, state = client.create_authorization_url(
            endpoints.authorization, code_verifier=code_verifier, nonce=nonce
        )
    request.session[PENDING] = {
        "state": state,
        "nonce": nonce,
        "verifier": code_verifier,
        "next": signin.local(request.query_params.get("next")),
    }
    return RedirectResponse(url, status_code=303)


async def callback(request: Request) -> Response:
    """Back from the provider: the code traded for tokens, the tokens checked, signed in."""
    chosen = provider(request)
    pending = request.session.pop(PENDING, None)
    given = request.query_params
    if (
        chosen is None
        or not isinstance(pending, dict)
        or not hmac.compare_digest(str(pending.get("state", "")), given.get("state", ""))
    ):
        return signin.sign_in_form(request, error=NOT_STARTED_HERE, status=400)
    if "error" in given:
        reason = given.get("error_description") or given["error"]
        return signin.sign_in_form(
            request, error=f"the sign-in service refused the sign-in: {reason}", status=401
        )
    try:
        tokens = await chosen.exchange(
            given.get("code", ""), pending["verifier"], callback_url(request)
        )
        identity = await chosen.verifier.id_token_claims(
            str(tokens.get("id_token", "")),
            client_id=chosen.settings.oidc_client_id,
            nonce=pending["nonce"],
        )
        access_token = str(tokens.get("access_token", ""))
        principal = await chosen.verifier.verify(access_token)
    except SignInRefused as exc:
        return signin.sign_in_form(request, error=str(exc), status=401)
    name = principal.name or identity.get("name") or identity.get("email") or principal.subject
    user = session.User(
        token=access_token, name=str(name), org_id=principal.org_id, role=principal.role.value
    )
    return await signin.signed_in(request, user, pending["next"])
