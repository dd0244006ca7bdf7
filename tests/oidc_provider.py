"""A small OpenID Connect provider the sign-in tests run on a socket: discovery, an
authorization page to choose who signs in, a token endpoint that checks the PKCE verifier,
and its keys. It is strict where a real provider is: one registered redirect URI, codes used
once, S256 challenges only."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from stack.embedded import free_port

CLIENT_ID = "pspx-web"
AUDIENCE = "pspx"


@dataclass(frozen=True)
class Account:
    subject: str
    name: str
    org_id: str
    role: str


@dataclass
class Provider:
    issuer: str
    redirect_uri: str
    accounts: list[Account]
    client_secret: str | None = None
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    nonce_override: str | None = None  # set to issue ID tokens for another sign-in

    @property
    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": "test-key", "alg": "RS256", "use": "sig"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        full = {"iss": self.issuer, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(full, self.key, algorithm="RS256", headers={"kid": "test-key"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize_page, methods=["GET"]),
                Route("/authorize", self.authorize, methods=["POST"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", lambda _: JSONResponse(self.jwks)),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "code_challenge_methods_supported": ["S256"],
            }
        )

    def _refusal(self, query: dict[str, str]) -> str | None:
        if query.get("client_id") != CLIENT_ID:
            return "unknown client"
        if query.get("redirect_uri") != self.redirect_uri:
            return "redirect_uri is not registered"
        if query.get("response_type") != "code":
            return "response_type must be code"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "a S256 code challenge is required"
        if not query.get("state") or not query.get("nonce"):
            return "state and nonce are required"
        return None

    async def authorize_page(self, request: Request) -> Response:
        query = dict(request.query_params)
        refusal = self._refusal(query)
        if refusal:
            return HTMLResponse(f"<p>{escape(refusal)}</p>", status_code=400)
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in query.items()
        )
        buttons = "".join(
            f'<button name="subject" value="{escape(a.subject)}">{escape(a.name)}</button>'
            for a in self.accounts
        )
        page = (
            '<!doctype html><html lang="en"><title>Identity provider</title><main>'
            f'<h1>Sign in</h1><form method="post">{hidden}{buttons}'
            '<button name="deny" value="1">Cancel</button></form></main></html>'
        )
        return HTMLResponse(page)

    async def authorize(self, request: Request) -> Response:
        form = await _form(request)
        refusal = self._refusal(form)
        if refusal:
            return HTMLResponse(f"<p>{escape(refusal)}</p>", status_code=400)
        if form.get("deny"):
            back = {
                "error": "access_denied",
                "error_description": "the user cancelled",
                "state": form["state"],
            }
            return RedirectResponse(f"{self.redirect_uri}?{urlencode(back)}", 303)
        account = next(a for a in self.accounts if a.subject == form["subject"])
        code = secrets.token_urlsafe(24)
        self.codes[code] = {**form, "account": account}
        back = {"code": code, "state": form["state"]}
        return RedirectResponse(f"{self.redirect_uri}?{urlencode(back)}", 303)

    async def token(self, request: Request) -> Response:
        form = await _form(request)
        self.token_requests.append(form)
        granted = self.codes.pop(form.get("code", ""), None)  # a code works once
        if granted is None:
            return _error("invalid_grant", "the code is unknown or was used")
        if self.client_secret is not None:
            expected = base64.b64encode(f"{CLIENT_ID}:{self.client_secret}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return _error("invalid_client", "the client did not authenticate")
        if form.get("redirect_uri") != granted["redirect_uri"]:
            return _error("invalid_grant", "redirect_uri differs from the authorization's")
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != granted["code_challenge"]:
            return _error("invalid_grant", "the code verifier does not match the challenge")
        account: Account = granted["account"]
        identity = {
            "sub": account.subject,
            "aud": CLIENT_ID,
            "nonce": self.nonce_override or granted["nonce"],
            "name": account.name,
        }
        access = {
            "sub": account.subject,
            "aud": AUDIENCE,
            "pspx_org": account.org_id,
            "pspx_role": account.role,
        }
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": 300,
                "access_token": self.sign(access),
                "id_token": self.sign(identity),
            }
        )


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode()))


def _error(code: str, description: str) -> Response:
    return JSONResponse({"error": code, "error_description": description}, status_code=400)


@contextmanager
def running(accounts: list[Account]) -> Iterator[Provider]:
    """A provider on a free port; it sends people back only to its ``redirect_uri``, which
    the test sets once it knows where the gateway runs."""
    port = free_port()
    provider = Provider(f"http://127.0.0.1:{port}", "", accounts)
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test identity provider did not start")
        time.sleep(0.02)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=5)
