"""Roles, bearer headers, and the tokens the gateway signs and verifies itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway import auth
from gateway.auth import (
    AuthConfigError,
    LocalKeys,
    LocalVerifier,
    OidcVerifier,
    Principal,
    Role,
    SignInRefused,
    bearer,
    check_fits,
    role_fits,
    verifier,
)
from gateway.web.pages.site import session_secret
from pspx.events.registry import OrgKind
from pspx.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, oidc_issuer="", oidc_jwks_url="")


@pytest.fixture
def keys(settings: Settings) -> LocalKeys:
    return LocalKeys(settings)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    """Valid local claims, with ``changes`` applied (a value of None removes the claim).
    ``exp`` and ``nbf`` are given in seconds from now, so the test's own time counts."""
    now = int(time.time())
    for key in ("exp", "nbf"):
        if changes.get(key) is not None:
            changes[key] = now + changes[key]
    base: dict[str, Any] = {
        "iss": "pspx-embedded",
        "aud": "pspx",
        "sub": "u-1",
        "iat": now,
        "exp": now + 600,
        "pspx_org": "GB-LAE-MAN",
        "pspx_role": "commissioner",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


async def refusal(settings: Settings, token: str) -> str:
    with pytest.raises(SignInRefused) as refused:
        await LocalVerifier(LocalKeys(settings), settings).verify(token)
    return str(refused.value)


# --- the signing key ---------------------------------------------------------------------------


def test_the_key_is_created_once_private_to_its_owner_and_reused(settings: Settings) -> None:
    first = LocalKeys(settings)
    kid = first.kid
    path = settings.data_dir / "gateway" / "signing-key.pem"
    written = path.read_bytes()

    assert path.stat().st_mode & 0o777 == 0o600
    again = LocalKeys(settings)
    assert again.kid == kid
    assert path.read_bytes() == written
    assert [p.name for p in path.parent.iterdir()] == ["signing-key.pem"]


def test_processes_starting_at_once_end_with_one_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both have written a key of their own before either puts it in place.
    both_written = threading.Barrier(2)
    write = auth._write_private

    def write_then_wait(path: Path, data: bytes) -> None:
        write(path, data)
        both_written.wait(timeout=10)

    monkeypatch.setattr(auth, "_write_private", write_then_wait)
    with ThreadPoolExecutor(2) as pool:
        kids = set(pool.map(lambda _: LocalKeys(settings).kid, range(2)))

    assert kids == {LocalKeys(settings).kid}
    assert [p.name for p in (settings.data_dir / "gateway").iterdir()] == ["signing-key.pem"]


def test_the_kid_is_the_rfc7638_thumbprint_and_the_jwks_holds_only_the_public_key(
    keys: LocalKeys,
) -> None:
    [jwk] = keys.jwks()["keys"]
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'

    assert keys.kid == b64(hashlib.sha256(canonical.encode()).digest())
    assert jwk == {
        "kty": "EC",
        "crv": "P-256",
        "x": jwk["x"],
        "y": jwk["y"],
        "kid": keys.kid,
        "use": "sig",
        "alg": "ES256",
    }


@pytest.mark.parametrize(
    "content",
    [
        b"not a key",
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    ],
    ids=["garbage", "p384"],
)
def test_a_key_file_that_is_not_a_p256_key_is_a_configuration_error(
    settings: Settings, content: bytes
) -> None:
    path = settings.data_dir / "gateway" / "signing-key.pem"
    path.parent.mkdir()
    path.write_bytes(content)

    with pytest.raises(AuthConfigError, match=r"signing-key\.pem"):
        LocalKeys(settings)


# --- local tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Commissioning officer, Manchester City Council", None])
async def test_a_signed_token_verifies_to_its_principal(
    keys: LocalKeys, settings: Settings, name: str | None
) -> None:
    principal = Principal("u-7", "GB-LAE-MAN", Role.COMMISSIONER, name)

    token = keys.sign(principal)

    assert await LocalVerifier(LocalKeys(settings), settings).verify(token) == principal


async def test_the_claims_carry_the_configured_names_and_lifetime(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        oidc_issuer="",
        oidc_audience="exchange",
        oidc_org_claim="org",
        oidc_role_claim="role",
        token_ttl_s=120,
    )
    keys = LocalKeys(settings)
    token = keys.sign(Principal("u-1", "GB-CHC-1", Role.PARTNER))
    header, payload, _ = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))

    assert json.loads(base64.urlsafe_b64decode(header + "=="))["kid"] == keys.kid
    assert {k: body[k] for k in ("iss", "aud", "org", "role")} == {
        "iss": "pspx-embedded",
        "aud": "exchange",
        "org": "GB-CHC-1",
        "role": "partner",
    }
    assert body["exp"] - body["iat"] == 120
    assert abs(body["iat"] - time.time()) < 5
    verified = await LocalVerifier(keys, settings).verify(token)
    assert verified == Principal("u-1", "GB-CHC-1", Role.PARTNER)


async def test_a_token_just_past_its_expiry_is_within_the_leeway(
    keys: LocalKeys, settings: Settings
) -> None:
    token = keys.encode(claims(exp=-10))

    assert (await LocalVerifier(keys, settings).verify(token)).subject == "u-1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": -120}, "the token has expired"),
        ({"nbf": 600}, "the token is not valid yet"),
        ({"aud": "other"}, "the token is meant for another audience (expected pspx)"),
        ({"aud": None}, "the token has no aud claim"),
        (
            {"iss": "https://idp.example"},
            "the token comes from another issuer (expected pspx-embedded)",
        ),
        ({"sub": None}, "the token has no sub claim"),
        ({"exp": None}, "the token has no exp claim"),
        ({"pspx_org": None}, "the token names no organisation (claim pspx_org)"),
        ({"pspx_org": ""}, "the token names no organisation (claim pspx_org)"),
        ({"pspx_role": None}, "the token names no role (claim pspx_role)"),
        (
            {"pspx_role": "admin"},
            "the token's role 'admin' is not one of commissioner, partner, operator "
            "(claim pspx_role)",
        ),
    ],
)
async def test_bad_claims_are_refused_precisely(
    keys: LocalKeys, settings: Settings, changes: dict[str, Any], message: str
) -> None:
    assert await refusal(settings, keys.encode(claims(**changes))) == message


async def test_a_tampered_token_is_refused(keys: LocalKeys, settings: Settings) -> None:
    header, payload, signature = keys.encode(claims()).split(".")
    raised = b64(json.dumps(claims(pspx_role="operator")).encode())
    mid = len(signature) // 2  # the last character may hold only padding bits
    flipped = f"{signature[:mid]}{'B' if signature[mid] == 'A' else 'A'}{signature[mid + 1 :]}"

    for token in (f"{header}.{raised}.{signature}", f"{header}.{payload}.{flipped}"):
        assert await refusal(settings, token) == "the token's signature does not verify"


async def test_an_unsigned_token_is_refused(keys: LocalKeys, settings: Settings) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": keys.kid}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."

    message = await refusal(settings, token)

    assert message == "the token's signing algorithm is not accepted (accepted: ES256)"


async def test_an_hmac_token_keyed_with_the_public_key_is_refused(
    keys: LocalKeys, settings: Settings
) -> None:
    public_pem = keys.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": keys.kid}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    message = await refusal(settings, f"{signing_input}.{b64(mac)}")

    assert message == "the token's signing algorithm is not accepted (accepted: ES256)"


async def test_a_token_of_another_gateway_is_refused(settings: Settings, tmp_path: Path) -> None:
    other = LocalKeys(Settings(data_dir=tmp_path / "other", oidc_issuer=""))

    message = await refusal(settings, other.encode(claims()))

    assert message == "the token was signed by a key this gateway does not hold"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", ""])
async def test_what_is_not_a_jwt_is_refused(settings: Settings, token: str) -> None:
    assert await refusal(settings, token) == "the token is not a well-formed JWT"


# --- choosing a verifier -----------------------------------------------------------------------


def test_the_embedded_default_verifies_local_tokens(settings: Settings) -> None:
    assert isinstance(verifier(settings), LocalVerifier)


def test_an_oidc_issuer_needs_its_jwks_url(tmp_path: Path) -> None:
    issuer = "https://idp.example/realms/pspx"
    with pytest.raises(AuthConfigError, match="PSPX_OIDC_JWKS_URL"):
        verifier(Settings(data_dir=tmp_path, oidc_issuer=issuer, oidc_jwks_url=""))

    chosen = verifier(
        Settings(data_dir=tmp_path, oidc_issuer=issuer, oidc_jwks_url=f"{issuer}/certs")
    )
    assert isinstance(chosen, OidcVerifier)
    assert not (tmp_path / "gateway").exists()  # no local key made for nothing


def test_with_an_oidc_issuer_the_session_key_must_be_given(tmp_path: Path) -> None:
    issuer = "https://idp.example/realms/pspx"
    production = Settings(data_dir=tmp_path, oidc_issuer=issuer, session_secret="")
    with pytest.raises(AuthConfigError, match="PSPX_SESSION_SECRET"):
        session_secret(production)
    assert not (tmp_path / "gateway").exists()  # none made quietly for one replica

    given = production.model_copy(update={"session_secret": "shared-by-every-replica"})
    assert session_secret(given) == "shared-by-every-replica"
    embedded = Settings(data_dir=tmp_path, oidc_issuer="", session_secret="")
    assert session_secret(embedded) == session_secret(embedded)  # made once, then kept


# --- roles and organisations -------------------------------------------------------------------

FITS = {
    Role.COMMISSIONER: {OrgKind.PUBLIC_BODY},
    Role.PARTNER: {
        OrgKind.CHARITY,
        OrgKind.SOCIAL_ENTERPRISE,
        OrgKind.VOLUNTARY,
        OrgKind.COMMUNITY,
        OrgKind.COOPERATIVE,
        OrgKind.OTHER,
    },
    Role.OPERATOR: set(OrgKind),
}
EVERY_PAIR = [(role, kind) for role in Role for kind in OrgKind]


@pytest.mark.parametrize(("role", "kind"), EVERY_PAIR)
def test_role_fits_its_kinds_of_organisation_only(role: Role, kind: OrgKind) -> None:
    assert role_fits(role, kind) is (kind in FITS[role])


@pytest.mark.parametrize(("role", "kind"), EVERY_PAIR)
def test_check_fits_refuses_exactly_what_does_not_fit(role: Role, kind: OrgKind) -> None:
    principal = Principal("u-1", "GB-X-1", role)
    if kind in FITS[role]:
        check_fits(principal, kind)
        return
    with pytest.raises(SignInRefused, match=rf"^a {role} must act for .+; GB-X-1 is an? [a-z ]+$"):
        check_fits(principal, kind)


@pytest.mark.parametrize(
    ("principal", "kind", "message"),
    [
        (
            Principal("u-1", "GB-CHC-1", Role.COMMISSIONER),
            OrgKind.CHARITY,
            "a commissioner must act for a public body; GB-CHC-1 is a charity",
        ),
        (
            Principal("u-1", "GB-LAE-MAN", Role.PARTNER),
            OrgKind.PUBLIC_BODY,
            "a partner must act for a third-sector organisation; GB-LAE-MAN is a public body",
        ),
        (
            Principal("u-1", "GB-COH-1", Role.PARTNER),
            OrgKind.PRIVATE,
            "a partner must act for a third-sector organisation; GB-COH-1 is a private "
            "organisation",
        ),
        (
            Principal("u-1", "GB-CHC-9", Role.OPERATOR),
            None,
            "organisation GB-CHC-9 is not registered",
        ),
    ],
)
def test_check_fits_says_why(principal: Principal, kind: OrgKind | None, message: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        check_fits(principal, kind)
    assert str(refused.value) == message


# --- the Authorization header ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc.def.ghi", "abc.def.ghi"),
        ("  BEARER   abc.def.ghi  ", "abc.def.ghi"),
    ],
)
def test_bearer_finds_the_token(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "the Authorization header must be 'Bearer <token>'"),
        ("abc.def.ghi", "the Authorization header must be 'Bearer <token>'"),
        ("Bearer", "the Authorization header holds no single bearer token"),
        ("Bearer abc def", "the Authorization header holds no single bearer token"),
    ],
)
def test_bearer_refuses_a_malformed_header(header: str, message: str) -> None:
    with pytest.raises(SignInRefused) as refused:
        bearer(header)
    assert str(refused.value) == message
