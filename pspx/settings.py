"""Every setting of PSP Exchange in one typed place (env prefix ``PSPX_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PSPX_", env_file=".env", extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_idempotence: bool = Field(
        False,
        description="Idempotent producer; on with Apache Kafka, off on the embedded broker",
    )
    mongo_url: str = Field(
        "mongodb://127.0.0.1:27017/?directConnection=true", description="MongoDB connection URL"
    )
    db_prefix: str = Field("pspx", description="Each service's database is <prefix>_<service>")

    host: str = Field("127.0.0.1", description="Interface the HTTP APIs bind to")
    gateway_port: int = Field(8100, description="Gateway HTTP port (GraphQL at /graphql)")
    registry_port: int = Field(8101, description="Registry HTTP port")
    matching_port: int = Field(8102, description="Matching HTTP port")
    exchange_port: int = Field(8103, description="Exchange HTTP port")
    registry_url: str = Field("", description="Registry base URL for callers (default from port)")
    matching_url: str = Field("", description="Matching base URL for callers (default from port)")
    exchange_url: str = Field("", description="Exchange base URL for callers (default from port)")
    gateway_url: str = Field("", description="Gateway base URL for callers (default from port)")

    oidc_issuer: str = Field(
        "",
        description="OpenID Connect issuer whose tokens the gateway accepts; empty: the gateway "
        "signs its own tokens with a key under the data directory (embedded default)",
    )
    oidc_audience: str = Field("pspx", description="Audience a token must name")
    oidc_jwks_url: str = Field("", description="The OpenID Connect provider's JWKS URL")
    oidc_org_claim: str = Field(
        "pspx_org", description="Token claim naming the user's organisation"
    )
    oidc_role_claim: str = Field("pspx_role", description="Token claim naming the user's role")
    oidc_client_id: str = Field(
        "", description="The web front end's client id at the OpenID Connect provider"
    )
    oidc_client_secret: str = Field(
        "",
        description="The web front end's client secret at the provider; empty for a public "
        "client (the sign-in uses PKCE either way)",
    )
    public_url: str = Field(
        "",
        description="The gateway's address as browsers reach it (https://...), for the "
        "provider's redirect back; empty: taken from each request",
    )
    token_ttl_s: int = Field(
        8 * 3600, gt=0, le=30 * 86400, description="Lifetime of tokens the gateway signs itself"
    )
    session_secret: str = Field(
        "",
        description="Key that signs the web front end's session cookies, shared by every "
        "gateway replica; required with an OIDC issuer; empty: one made under the data "
        "directory on first start (embedded default)",
    )
    secure_cookies: bool = Field(
        False, description="Send session cookies over HTTPS only (set behind TLS)"
    )
    live_window_s: float = Field(
        300,
        gt=0,
        le=3600,
        description="How far back a reconnecting subscription can resume from its cursor",
    )

    kafka_port: int = Field(9092, description="Embedded broker port (pspx up)")
    mongo_port: int = Field(27017, description="Embedded Mongo-wire server port (pspx up)")
    data_dir: Path = Field(Path("var"), description="Embedded stack data and logs (pspx up)")

    relay_interval_s: float = Field(
        0.5, gt=0, description="Outbox relay poll interval when no write wakes it"
    )
    relay_lease_s: float = Field(
        10,
        gt=0,
        description="Term of the lease that lets one replica's outbox relay publish; another "
        "takes over this long after the holder stops renewing",
    )
    log_check_s: float = Field(
        5.0,
        gt=0,
        description="How often relays and followers check that the broker still holds what "
        "they sent or read",
    )
    consumer_retries: int = Field(
        3, ge=0, description="Retries of a failing event before it goes to the dead-letter topic"
    )
    consumer_fetch_wait_ms: int = Field(
        100,
        ge=1,
        le=5000,
        description="Longest wait of an idle consumer fetch; bounds delivery latency",
    )
    match_alert_score: float = Field(
        0.2, ge=0, le=1, description="Score above which matching.match.found is published"
    )
    comment_edit_window_s: float = Field(
        900, gt=0, description="How long a comment's author may edit it (exchange)"
    )
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR)")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    def database(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    def service_url(self, service: str) -> str:
        explicit: str = getattr(self, f"{service}_url")
        if explicit:
            return explicit.rstrip("/")
        return f"http://{self.host}:{getattr(self, f'{service}_port')}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
