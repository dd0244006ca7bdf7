"""Tokens of an OpenID Connect provider, checked against keys served by a real local server."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from gateway.auth import OidcVerifier, Principal, Role, SignInRefused
from pspx.settings import Settings
from stack.embedded import free_port
from tests.unit.gateway.conftest import JsonServer

ISSUER = "https://idp.example/realms/pspx"
JWKS_PATH = "/realms/pspx/protocol/openid-connect/certs"
ACCEPTED = "(accepted: RS256, PS256, ES256, EdDSA)"


@dataclass
class SigningKey:
    kid: str
    private: Any
    public_jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any], algorithm: str, kid: str | None = None) -> str:
        headers = {"kid": kid or self.kid}
        return jwt.encode(claims, self.private, algorithm=algorithm, headers=headers)


def rsa_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, private, {**jwk, "kid": kid, "use": "sig"})


def ec_key(kid: str) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, private, {**jwk, "kid": kid, "use": "sig"})


def ed_key(kid: str) -> SigningKey:
    private = ed25519.Ed25519PrivateKey.generate()
    jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, private, {**jwk, "kid": kid, "use": "sig"})


RSA_KEY = rsa_key("rsa-2026-01")


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "pspx",
        "sub": "0b7c1e4a",
        "iat": now,
        "exp": now + 300,
        "name": "Partnerships lead",
        "pspx_org": "GB-CHC-1103535",
        "pspx_role": "partner",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


PRINCIPAL = Principal("0b7c1e4a", "GB-CHC-1103535", Role.PARTNER, "Partnerships lead")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, oidc_issuer=ISSUER, oidc_jwks_url=url)


@pytest.fixture
def provider(json_server: JsonServer) -> JsonServer:
    json_server.routes[JWKS_PATH] = (200, {"keys": [RSA_KEY.public_jwk]})
    return json_server


@pytest.fixture
def settings(provider: JsonServer, tmp_path: Path) -> Settings:
    return settings_for(provider.url + JWKS_PATH, tmp_path)


async def refusal(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(SignInRefused) as refused:
        await verifier.verify(token)
    return str(refused.value)


@pytest.mark.parametrize(
    ("make_key", "algorithm"),
    [(rsa_key, "RS256"), (rsa_key, "PS256"), (ec_key, "ES256"), (ed_key, "EdDSA")],
)
async def test_a_token_signed_with_a_published_key_verifies(
    provider: JsonServer, settings: Settings, make_key: Any, algorithm: str
) -> None:
    key: SigningKey = make_key("k-1")
    provider.routes[JWKS_PATH] = (200, {"keys": [RSA_KEY.public_jwk, key.public_jwk]})

    principal = await OidcVerifier(settings).verify(key.sign(claims(), algorithm))

    assert principal == PRINCIPAL


async def test_the_keys_are_fetched_once_for_many_tokens(
    provider: JsonServer, settings: Settings
) -> None:
    verifier = OidcVerifier(settings)
    tokens = [RSA_KEY.sign(claims(sub=f"user-{i}"), "RS256") for i in range(20)]

    principals = await asyncio.gather(*(verifier.verify(t) for t in tokens))

    assert [p.subject for p in principals] == [f"user-{i}" for i in range(20)]
    assert provider.hits == [JWKS_PATH]


async def test_the_configured_claim_names_are_read(provider: JsonServer, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        oidc_issuer=ISSUER,
        oidc_jwks_url=provider.url + JWKS_PATH,
        oidc_audience="exchange",
        oidc_org_claim="organisation",
        oidc_role_claim="psp_role",
    )
    token = RSA_KEY.sign(
        claims(aud="exchange", pspx_org=None, pspx_role=None, organisation="GB-LAE-MAN")
        | {"psp_role": "commissioner"},
        "RS256",
    )

    principal = await OidcVerifier(settings).verify(token)

    assert (principal.org_id, principal.role) == ("GB-LAE-MAN", Role.COMMISSIONER)


async def test_a_token_signed_by_another_key_is_refused(settings: Settings) -> None:
    impostor = rsa_key(RSA_KEY.kid)  # claims the published kid
    verifier = OidcVerifier(settings)

    assert await refusal(verifier, impostor.sign(claims(), "RS256")) == (
        "the token's signature does not verify"
    )
    assert await refusal(verifier, rsa_key("unknown").sign(claims(), "RS256")) == (
        "the token was signed by a key the identity provider does not publish"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # Times as offsets from when the test runs, not from when it was collected.
        ({"exp": -60}, "the token has expired"),
        ({"nbf": 60}, "the token is not valid yet"),
        ({"aud": "another-app"}, "the token is meant for another audience (expected pspx)"),
        (
            {"iss": "https://evil.example"},
            f"the token comes from another issuer (expected {ISSUER})",
        ),
        ({"pspx_org": None}, "the token names no organisation (claim pspx_org)"),
        (
            {"pspx_role": "superuser"},
            "the token's role 'superuser' is not one of commissioner, partner, operator "
            "(claim pspx_role)",
        ),
    ],
)
async def test_bad_claims_are_refused_precisely(
    settings: Settings, changes: dict[str, Any], message: str
) -> None:
    now = int(time.time())
    changes = {k: now + v if k in {"exp", "nbf"} else v for k, v in changes.items()}
    token = RSA_KEY.sign(claims(**changes), "RS256")

    assert await refusal(OidcVerifier(settings), token) == message


async def test_the_clock_leeway_is_thirty_seconds(settings: Settings) -> None:
    verifier = OidcVerifier(settings)
    late = RSA_KEY.sign(claims(exp=int(time.time()) - 20), "RS256")
    early = RSA_KEY.sign(claims(nbf=int(time.time()) + 20), "RS256")

    assert await verifier.verify(late) == PRINCIPAL
    assert await verifier.verify(early) == PRINCIPAL


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("algorithm", ["none", "HS256", "HS512", "RS384"])
async def test_only_the_asymmetric_algorithms_are_accepted(
    provider: JsonServer, settings: Settings, algorithm: str
) -> None:
    header = b64(json.dumps({"alg": algorithm, "kid": RSA_KEY.kid}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}.{b64(b'signature')}"

    message = await refusal(OidcVerifier(settings), token)

    assert message == f"the token's signing algorithm is not accepted {ACCEPTED}"
    assert provider.hits == []  # refused before any key is looked up


async def test_a_key_is_used_only_for_an_algorithm_it_fits(
    provider: JsonServer, settings: Settings
) -> None:
    bound = {**RSA_KEY.public_jwk, "alg": "RS256"}
    ec_jwk = ec_key("ec-1").public_jwk
    provider.routes[JWKS_PATH] = (200, {"keys": [bound, ec_jwk]})
    verifier = OidcVerifier(settings)

    tokens = [
        RSA_KEY.sign(claims(), "PS256"),  # the provider bound this key to RS256
        RSA_KEY.sign(claims(), "RS256", kid="ec-1"),  # an EC key for an RSA signature
    ]

    messages = {await refusal(verifier, token) for token in tokens}

    assert messages == {"the token's signing key does not fit its algorithm"}


async def test_a_token_without_a_kid_is_refused(settings: Settings) -> None:
    token = jwt.encode(claims(), RSA_KEY.private, algorithm="RS256")

    assert await refusal(OidcVerifier(settings), token) == (
        "the token names no signing key (kid header)"
    )


async def test_a_rotated_key_is_picked_up_at_most_once_a_minute(
    provider: JsonServer, settings: Settings
) -> None:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        verifier = OidcVerifier(settings, http, clock=clock)
        assert await verifier.verify(RSA_KEY.sign(claims(), "RS256")) == PRINCIPAL

        rotated = rsa_key("rsa-2026-02")
        provider.routes[JWKS_PATH] = (200, {"keys": [rotated.public_jwk]})
        new_token = rotated.sign(claims(), "RS256")
        clock.now += 30
        assert await refusal(verifier, new_token) == (
            "the token was signed by a key the identity provider does not publish"
        )
        assert len(provider.hits) == 1

        clock.now += 31
        assert await verifier.verify(new_token) == PRINCIPAL
        assert len(provider.hits) == 2
        # The old key is no longer published, so its tokens no longer verify.
        assert await refusal(verifier, RSA_KEY.sign(claims(), "RS256")) == (
            "the token was signed by a key the identity provider does not publish"
        )
        assert len(provider.hits) == 2


async def test_unreachable_keys_are_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/certs"  # nothing listens there
    verifier = OidcVerifier(settings_for(url, tmp_path))

    assert await refusal(verifier, RSA_KEY.sign(claims(), "RS256")) == (
        "the identity provider's signing keys could not be fetched"
    )


@pytest.mark.parametrize(
    "answer",
    [(500, {"error": "internal"}), (200, b"<html>login</html>"), (200, {"keys": "none"})],
    ids=["error", "not-json", "no-key-list"],
)
async def test_a_provider_that_answers_nonsense_is_refused(
    provider: JsonServer, settings: Settings, answer: tuple[int, Any]
) -> None:
    provider.routes[JWKS_PATH] = answer
    clock = Clock()
    verifier = OidcVerifier(settings, clock=clock)

    assert await refusal(verifier, RSA_KEY.sign(claims(), "RS256")) == (
        "the identity provider's signing keys could not be fetched"
    )

    provider.routes[JWKS_PATH] = (200, {"keys": [RSA_KEY.public_jwk]})
    assert await refusal(verifier, RSA_KEY.sign(claims(), "RS256")) == (
        "the identity provider's signing keys could not be fetched"
    )
    clock.now += 5
    assert await verifier.verify(RSA_KEY.sign(claims(), "RS256")) == PRINCIPAL
    assert len(provider.hits) == 2


async def test_an_id_token_is_for_the_web_client_and_this_sign_in(settings: Settings) -> None:
    verifier = OidcVerifier(settings)
    identity = claims(aud="pspx-web", nonce="n-1", pspx_org=None, pspx_role=None)

    found = await verifier.id_token_claims(
        RSA_KEY.sign(identity, "RS256"), client_id="pspx-web", nonce="n-1"
    )
    assert found["sub"] == identity["sub"]

    with pytest.raises(SignInRefused, match=r"not issued for this sign-in \(nonce\)"):
        await verifier.id_token_claims(
            RSA_KEY.sign(identity, "RS256"), client_id="pspx-web", nonce="n-2"
        )
    with pytest.raises(SignInRefused, match="not issued for this sign-in"):
        unbound = claims(aud="pspx-web", pspx_org=None, pspx_role=None)
        await verifier.id_token_claims(
            RSA_KEY.sign(unbound, "RS256"), client_id="pspx-web", nonce="n-1"
        )
    with pytest.raises(SignInRefused, match="meant for another audience"):
        await verifier.id_token_claims(
            RSA_KEY.sign(identity, "RS256"), client_id="another-client", nonce="n-1"
        )
