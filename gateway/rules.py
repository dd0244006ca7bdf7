"""Who may do what: every authorisation decision of the gateway, in one place.

A viewer is the signed-in user (``auth.Principal``: one organisation, one
role) or None. Without a token one may read public profiles, published
practices and search partners, nothing else. Each rule returns the viewer it
admitted or raises ``Denied`` saying why; the schema shows that as a typed
``NotAllowed`` from a mutation, and as an error with code ``FORBIDDEN`` or
``UNAUTHENTICATED`` from a query.
"""

from __future__ import annotations

from typing import Any

from gateway.auth import Principal, Role

MAX_PAGE = 100  # the most items one field returns in one page


class Denied(Exception):
    code = "FORBIDDEN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotSignedIn(Denied):
    code = "UNAUTHENTICATED"


class BadArgument(Exception):
    """An argument outside what the schema allows (a page too large): safe to show."""

    code = "BAD_USER_INPUT"


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadArgument(f"first must be between 1 and {MAX_PAGE}, not {first}")
    return first


def signed_in(viewer: Principal | None) -> Principal:
    if viewer is None:
        raise NotSignedIn("sign in to see this (send a bearer token)")
    return viewer


def operator(viewer: Principal | None) -> Principal:
    user = signed_in(viewer)
    if user.role is not Role.OPERATOR:
        raise Denied("operators only")
    return user


def own(viewer: Principal | None, org_id: str) -> Principal:
    """The viewer acts for ``org_id``: only an organisation's own users change its records."""
    user = signed_in(viewer)
    if user.org_id != org_id:
        raise Denied(f"you act for {user.org_id}, not {org_id}")
    return user


def commissioner(viewer: Principal | None, org_id: str | None = None) -> Principal:
    """A commissioner, acting for ``org_id`` when given (its own organisation)."""
    user = signed_in(viewer)
    if user.role is not Role.COMMISSIONER:
        raise Denied("commissioners only")
    return own(user, org_id) if org_id is not None else user


def partner(viewer: Principal | None, org_id: str | None = None) -> Principal:
    user = signed_in(viewer)
    if user.role is not Role.PARTNER:
        raise Denied("third-sector partners only")
    return own(user, org_id) if org_id is not None else user


def may_see_shortlist(viewer: Principal | None, commissioner_id: str) -> Principal:
    """A need's shortlist: its commissioner's users and operators."""
    user = signed_in(viewer)
    if user.role is Role.OPERATOR:
        return user
    if user.role is not Role.COMMISSIONER or user.org_id != commissioner_id:
        raise Denied("only the need's commissioner sees its shortlist")
    return user


def parties(partnership: dict[str, Any]) -> set[str]:
    return {partnership["commissioner_id"], *partnership["partner_ids"]}


def is_party(viewer: Principal | None, partnership: dict[str, Any]) -> bool:
    """Operators see every partnership; anyone else those their organisation is part of."""
    if viewer is None:
        return False
    return viewer.role is Role.OPERATOR or viewer.org_id in parties(partnership)


def party(viewer: Principal | None, partnership: dict[str, Any]) -> Principal:
    """A party to the partnership acting for its own organisation (operators read, not act)."""
    user = signed_in(viewer)
    if user.org_id not in parties(partnership):
        raise Denied(f"{user.org_id} is not a party to this partnership")
    return user


def may_see_practice(viewer: Principal | None, practice: dict[str, Any]) -> bool:
    """Published practices are public; drafts and withdrawn ones their author's and operators'."""
    if practice["status"] == "published":
        return True
    if viewer is None:
        return False
    return viewer.role is Role.OPERATOR or viewer.org_id == practice["author"]["id"]
