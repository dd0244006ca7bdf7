"""Signing in through an OpenID Connect provider: to its page and back with a code, which the
gateway trades for tokens with its PKCE verifier; refused when the way back was not started
here, when the provider refuses, or when the ID token belongs to another sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import checked
from tests.oidc_provider import CLIENT_ID, Account, Provider, running

COMMISSIONER = Account(
    "idp-7f3a", "Commissioning officer", "GB-LAE-MAN", "commissioner"
)  # an organisation the demo data registers
PARTNER_OF_A_PUBLIC_BODY = Account("idp-9c1d", "Misfiled partner", "GB-LAE-MAN", "partner")


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with running([COMMISSIONER, PARTNER_OF_A_PUBLIC_BODY]) as started:
        yield started


@pytest.fixture(scope="module")
def extra_settings(provider: Provider) -> dict[str, Any]:
    return {
        "oidc_issuer": provider.issuer,
        "oidc_jwks_url": f"{provider.issuer}/jwks",
        "oidc_client_id": CLIENT_ID,
        "session_secret": "a-session-key-every-gateway-replica-shares-0123456789",
    }


@pytest.fixture(scope="module")
def other_sites(provider: Provider) -> tuple[str, ...]:
    return (provider.issuer,)


@pytest.fixture(autouse=True)
def registered(provider: Provider, site: str) -> Iterator[None]:
    provider.redirect_uri = f"{site}/sign-in/callback"
    provider.nonce_override = None
    yield


def choose_at_provider(page: Page, account: Account) -> None:
    page.goto("/sign-in?next=/needs")
    expect(page.get_by_text("This is a demonstration")).to_have_count(0)
    page.get_by_role("button", name="Continue to your organisation's sign-in").click()
    page.get_by_role("button", name=account.name).click()


def test_a_commissioner_signs_in_at_the_provider_and_comes_back_signed_in(
    page: Page, provider: Provider
) -> None:
    page.goto("/sign-in")
    checked(page, "sign-in-provider")
    choose_at_provider(page, COMMISSIONER)

    expect(page.get_by_text(f"Signed in as {COMMISSIONER.name}")).to_be_visible()
    assert urlsplit(page.url).path == "/needs"  # back where the sign-in was asked for
    expect(page.get_by_role("heading", name="Your organisation's needs")).to_be_visible()
    exchanged = provider.token_requests[-1]
    assert exchanged["grant_type"] == "authorization_code"
    assert len(exchanged["code_verifier"]) >= 43  # RFC 7636's shortest verifier
    cookie = next(c for c in page.context.cookies() if c["name"] == "pspx_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_cancelling_at_the_provider_comes_back_to_a_clear_refusal(page: Page) -> None:
    page.goto("/sign-in")
    page.get_by_role("button", name="Continue to your organisation's sign-in").click()
    page.get_by_role("button", name="Cancel").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("The sign-in service refused the sign-in: the user cancelled")
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    checked(page, "sign-in-provider-refused")


def test_a_way_back_not_started_here_is_refused(page: Page, provider: Provider) -> None:
    # A code and state an attacker obtained for their own account, sent to someone else's
    # browser: the state is not this session's, so nothing is exchanged.
    before = len(provider.token_requests)
    response = page.goto("/sign-in/callback?code=stolen&state=forged")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("This sign-in was not started here")
    assert len(provider.token_requests) == before


def test_an_id_token_of_another_sign_in_is_refused(page: Page, provider: Provider) -> None:
    provider.nonce_override = "a-nonce-of-another-sign-in"
    choose_at_provider(page, COMMISSIONER)
    expect(page.get_by_role("alert")).to_contain_text("not issued for this sign-in (nonce)")
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_a_role_that_does_not_fit_the_organisation_is_refused(page: Page) -> None:
    choose_at_provider(page, PARTNER_OF_A_PUBLIC_BODY)
    expect(page.get_by_role("alert")).to_contain_text(
        "A partner must act for a third-sector organisation"
    )
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_the_provider_is_sent_a_s256_challenge_and_the_registered_way_back(
    page: Page, provider: Provider
) -> None:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/authorize?" in r.url else None)
    page.goto("/sign-in")
    page.get_by_role("button", name="Continue to your organisation's sign-in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    asked = {k: v[0] for k, v in parse_qs(urlsplit(seen[0]).query).items()}
    assert asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"] == provider.redirect_uri
    assert asked["client_id"] == CLIENT_ID
    assert "openid" in asked["scope"].split()
