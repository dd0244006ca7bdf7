"""Who is signed in, kept in a signed, HttpOnly session cookie, and the CSRF token every
form carries.

The session holds the user's bearer token (the gateway's own, or the identity provider's)
and what the pages show of them; every page passes the token to the GraphQL schema, which
verifies it on each request as it does for any client.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_FORM_BYTES = 256 * 1024


@dataclass(frozen=True)
class User:
    token: str
    name: str
    org_id: str
    role: str


def user(request: Request) -> User | None:
    found = request.session.get("user")
    return User(**found) if isinstance(found, dict) else None


def sign_in(request: Request, signed_in: User) -> None:
    request.session.clear()  # a new session for a new identity: no fixation of the old one
    request.session["user"] = vars(signed_in)
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


class BadForm(Exception):
    """A form that did not come from one of our pages, or is too large to be one."""


async def form(request: Request) -> dict[str, Any]:
    """A posted form's fields (a repeated name gives a list), once its CSRF token matches
    the session's."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadForm("the form is too large")
    fields: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    expected = request.session.get("csrf")
    given = fields.pop("csrf_token", "")
    if not isinstance(expected, str) or not isinstance(given, str):
        raise BadForm("the form's security token is missing")
    if not hmac.compare_digest(expected, given):
        raise BadForm("the form's security token does not match this session")
    return fields
