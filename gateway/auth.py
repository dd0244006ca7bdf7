"""Who is calling the gateway: roles, the principal a token names, and the tokens themselves.

A token names one organisation and one role. The gateway either signs its own
tokens (embedded default, ES256 with a key under the data directory) or accepts
those of an OpenID Connect provider (``PSPX_OIDC_ISSUER``). Either way a
refusal is a ``SignInRefused`` whose message may be shown to the client.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from jwt.exceptions import InvalidSubjectError

from pspx.events.registry import OrgKind
from pspx.settings import Settings

log = logging.getLogger(__name__)

# --- roles and principals ----------------------------------------------------------------------


class Role(StrEnum):
    COMMISSIONER = "commissioner"
    PARTNER = "partner"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    subject: str
    org_id: str
    role: Role
    name: str | None = None


class SignInRefused(Exception):
    """Why a token or a header was refused, in words safe to show the client."""


class AuthConfigError(RuntimeError):
    """The settings cannot work: the gateway should not start."""


def role_fits(role: Role, kind: OrgKind) -> bool:
    """Whether someone in ``role`` may act for an organisation of ``kind``."""
    match role:
        case Role.COMMISSIONER:
            return kind is OrgKind.PUBLIC_BODY
        case Role.PARTNER:
            return kind.is_third_sector
        case Role.OPERATOR:
            # Granted by the identity provider to those who run the installation.
            return True


KIND_WORDS = {
    OrgKind.PUBLIC_BODY: "a public body",
    OrgKind.CHARITY: "a charity",
    OrgKind.SOCIAL_ENTERPRISE: "a social enterprise",
    OrgKind.VOLUNTARY: "a voluntary organisation",
    OrgKind.COMMUNITY: "a community organisation",
    OrgKind.COOPERATIVE: "a cooperative",
    OrgKind.PRIVATE: "a private organisation",
    OrgKind.OTHER: "an organisation of another kind",
}
ROLE_NEEDS = {
    Role.COMMISSIONER: "a commissioner must act for a public body",
    Role.PARTNER: "a partner must act for a third-sector organisation",
}


def check_fits(principal: Principal, kind: OrgKind | None) -> None:
    """Refuse a principal whose organisation is unknown (``kind`` None) or of the wrong kind."""
    if kind is None:
        raise SignInRefused(f"organisation {principal.org_id} is not registered")
    if not role_fits(principal.role, kind):
        raise SignInRefused(
            f"{ROLE_NEEDS[principal.role]}; {principal.org_id} is {KIND_WORDS[kind]}"
        )


def bearer(authorization_header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without one."""
    if authorization_header is None or not authorization_header.strip():
        return None
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise SignInRefused("the Authorization header must be 'Bearer <token>'")
    if not token or any(c.isspace() for c in token):
        raise SignInRefused("the Authorization header holds no single bearer token")
    return token


# --- verification ------------------------------------------------------------------------------

LEEWAY_S = 30  # clock skew tolerated between the gateway and whoever signed the token
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp"]


class Verifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


def verifier(settings: Settings) -> Verifier:
    """Checks the provider's tokens when an OIDC issuer is set, the gateway's own otherwise."""
    if settings.oidc_issuer:
        return OidcVerifier(settings)
    return LocalVerifier(LocalKeys(settings), settings)


def _header(token: str, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """The unverified header, once its algorithm is known to be one of ``algorithms``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SignInRefused("the token is not a well-formed JWT") from None
    # Checked before any key is chosen, so "none" and HMAC (a public key as the secret)
    # never reach a verification step.
    if header.get("alg") not in algorithms:
        raise SignInRefused(
            f"the token's signing algorithm is not accepted (accepted: {', '.join(algorithms)})"
        )
    return header


def _reason(exc: jwt.PyJWTError, issuer: str, audience: str) -> str:
    match exc:
        case jwt.ExpiredSignatureError():
            return "the token has expired"
        case jwt.ImmatureSignatureError():
            return "the token is not valid yet"
        case jwt.InvalidAudienceError():
            return f"the token is meant for another audience (expected {audience})"
        case jwt.InvalidIssuerError():
            return f"the token comes from another issuer (expected {issuer})"
        case jwt.MissingRequiredClaimError():
            return f"the token has no {exc.claim} claim"
        case InvalidSubjectError():
            return "the token's sub claim is not a string"
        case jwt.InvalidIssuedAtError():
            return "the token's iat claim is not a time"
        case jwt.InvalidSignatureError():
            return "the token's signature does not verify"
        case jwt.InvalidKeyError() | jwt.InvalidAlgorithmError():
            return "the token's signing key does not fit its algorithm"
        case jwt.DecodeError():
            return "the token is not a well-formed JWT"
        case _:
            return "the token is not valid"


def _decode(token: str, key: Any, algorithm: str, *, issuer: str, audience: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise SignInRefused(_reason(exc, issuer, audience)) from None
    return claims


def _principal(claims: Mapping[str, Any], settings: Settings) -> Principal:
    org_claim, role_claim = settings.oidc_org_claim, settings.oidc_role_claim
    org_id = claims.get(org_claim)
    if not isinstance(org_id, str) or not org_id:
        raise SignInRefused(f"the token names no organisation (claim {org_claim})")
    value = claims.get(role_claim)
    if value is None:
        raise SignInRefused(f"the token names no role (claim {role_claim})")
    try:
        role = Role(value)
    except ValueError:
        raise SignInRefused(
            f"the token's role {value!r} is not one of {', '.join(Role)} (claim {role_claim})"
        ) from None
    name = claims.get("name")
    return Principal(claims["sub"], org_id, role, name if isinstance(name, str) else None)


# --- tokens the gateway signs itself -----------------------------------------------------------

LOCAL_ISSUER = "pspx-embedded"
LOCAL_ALGORITHM = "ES256"


class LocalKeys:
    """The gateway's own EC P-256 signing key: read from the data directory, or made there
    the first time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.data_dir / "gateway" / "signing-key.pem"
        self.private_key = _load_or_create(self.path)
        self.public_jwk = _public_jwk(self.private_key.public_key())
        self.kid = self.public_jwk["kid"]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWKS document, for whoever verifies these tokens elsewhere."""
        return {"keys": [self.public_jwk]}

    def sign(self, principal: Principal) -> str:
        """A token naming ``principal``, valid for ``token_ttl_s``."""
        settings = self.settings
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": settings.oidc_audience,
            "sub": principal.subject,
            "iat": now,
            "exp": now + settings.token_ttl_s,
            settings.oidc_org_claim: principal.org_id,
            settings.oidc_role_claim: principal.role.value,
        }
        if principal.name:
            claims["name"] = principal.name
        return self.encode(claims)

    def encode(self, claims: Mapping[str, Any]) -> str:
        """Sign ``claims`` as they are."""
        return jwt.encode(
            dict(claims), self.private_key, algorithm=LOCAL_ALGORITHM, headers={"kid": self.kid}
        )


def _public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    public = {k: str(jwk[k]) for k in ("kty", "crv", "x", "y")}
    return {**public, "kid": _thumbprint(public), "use": "sig", "alg": LOCAL_ALGORITHM}


def _thumbprint(public_jwk: Mapping[str, str]) -> str:
    """The RFC 7638 thumbprint of an EC public key: SHA-256 of its required members, sorted."""
    members = {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def _load(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise AuthConfigError(f"{path} holds no readable, unencrypted private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise AuthConfigError(f"{path} is not an EC P-256 private key")
    return key


def _load_or_create(path: Path) -> ec.EllipticCurvePrivateKey:
    def new_key() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    made_once(path, new_key)
    return _load(path)


def made_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret in ``path``, made with ``make`` and written readable by its owner only the
    first time it is asked for."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = make()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _write_private(tmp, secret)
        # A link, unlike a rename, never replaces: when two processes start at once the
        # first secret in place wins and the other adopts it, so both use the same one.
        os.link(tmp, path)
    except FileExistsError:
        return path.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    return secret


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


class LocalVerifier:
    """Accepts the tokens ``LocalKeys`` signs."""

    def __init__(self, keys: LocalKeys, settings: Settings) -> None:
        self.keys = keys
        self.settings = settings

    async def verify(self, token: str) -> Principal:
        header = _header(token, (LOCAL_ALGORITHM,))
        if header.get("kid") != self.keys.kid:
            raise SignInRefused("the token was signed by a key this gateway does not hold")
        claims = _decode(
            token,
            self.keys.private_key.public_key(),
            LOCAL_ALGORITHM,
            issuer=LOCAL_ISSUER,
            audience=self.settings.oidc_audience,
        )
        return _principal(claims, self.settings)


# --- tokens of an OpenID Connect provider ------------------------------------------------------

OIDC_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
REFETCH_S = 60.0  # an unknown kid refetches the keys at most this often
RETRY_S = 5.0  # after a failed fetch, so a provider that was briefly down is soon tried again
FETCH_TIMEOUT_S = 5.0
KEYS_UNREACHABLE = "the identity provider's signing keys could not be fetched"


class OidcVerifier:
    """Accepts the tokens of the provider at ``oidc_issuer``, checked with its published keys."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.oidc_jwks_url:
            raise AuthConfigError(
                "PSPX_OIDC_ISSUER is set but PSPX_OIDC_JWKS_URL is not: set it to the "
                "provider's JWKS URL (jwks_uri in its /.well-known/openid-configuration)"
            )
        self.settings = settings
        self._http = http
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._unreachable = False
        self._fetching = asyncio.Lock()

    async def verify(self, token: str) -> Principal:
        claims = await self._claims(token, audience=self.settings.oidc_audience)
        return _principal(claims, self.settings)

    async def id_token_claims(self, token: str, *, client_id: str, nonce: str) -> dict[str, Any]:
        """The claims of an ID token the provider issued to the web front end (``client_id``)
        for the sign-in that sent ``nonce``: another sign-in's token is refused."""
        claims = await self._claims(token, audience=client_id)
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given, nonce):
            raise SignInRefused("the ID token was not issued for this sign-in (nonce)")
        return claims

    async def _claims(self, token: str, *, audience: str) -> dict[str, Any]:
        header = _header(token, OIDC_ALGORITHMS)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise SignInRefused("the token names no signing key (kid header)")
        key = _fitting_key(await self._jwk(kid), header["alg"])
        return _decode(
            token, key, header["alg"], issuer=self.settings.oidc_issuer, audience=audience
        )

    async def _jwk(self, kid: str) -> dict[str, Any]:
        if kid not in self._keys:
            async with self._fetching:  # concurrent requests with a new kid share one fetch
                if kid not in self._keys and self._due():
                    await self._fetch()
        if kid in self._keys:
            return self._keys[kid]
        if self._unreachable:
            raise SignInRefused(KEYS_UNREACHABLE)
        raise SignInRefused("the token was signed by a key the identity provider does not publish")

    def _due(self) -> bool:
        if self._fetched_at is None:
            return True
        wait = RETRY_S if self._unreachable else REFETCH_S
        return self._clock() - self._fetched_at >= wait

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()
        url = self.settings.oidc_jwks_url
        try:
            response = await self._get(url)
            response.raise_for_status()
            keys = _keys_by_kid(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not fetch the identity provider's keys from %s: %s", url, exc)
            self._unreachable = True  # the keys already held stay usable
            return
        self._keys, self._unreachable = keys, False

    async def _get(self, url: str) -> httpx.Response:
        if self._http is not None:
            return await self._http.get(url, timeout=FETCH_TIMEOUT_S, follow_redirects=True)
        # Fetches are rare (once a minute at most), so a client of its own each time is
        # cheaper than one to keep and close.
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as http:
            return await http.get(url)


def _keys_by_kid(document: Any) -> dict[str, dict[str, Any]]:
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError("the JWKS document has no list of keys")
    return {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}


def _fitting_key(jwk: Mapping[str, Any], algorithm: str) -> jwt.PyJWK:
    """The key as one for ``algorithm``; refused when the provider bound it to another."""
    if jwk.get("alg", algorithm) != algorithm:
        raise SignInRefused("the token's signing key does not fit its algorithm")
    try:
        return jwt.PyJWK(dict(jwk), algorithm)
    except jwt.PyJWTError:
        raise SignInRefused("the token's signing key does not fit its algorithm") from None
