"""Settings common to every service (pydantic-settings, one prefix each).

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``GDZWFW_``, ``ISSO_``, ``REFUND_``). Settings are passed explicitly to
``create_app(settings)``; nothing reads a module-global settings object.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "ServiceSettings",
    "ProviderSettings",
    "ClientConfig",
    "ClientRegistration",
    "FAPI2",
    "FAPI2_CODE_TTL",
    "FAPI2_SIGNING_ALGORITHMS",
    "CLIENT_SIGNING_ALGORITHMS",
    "ID_TOKEN_SIGNING_ALGORITHMS",
    "PLACEHOLDER_SECRETS",
    "weak_secret",
    "client_destinations",
]

# Values that appear in examples and the development env file. Outside
# development a service refuses to start with them.
PLACEHOLDER_SECRETS = {
    "",
    "change-me",
    "changeme",
    "secret",
    "dev-secret-key-not-for-production",
    "dev-audit-key-not-for-production",
    "dev-staff-totp-key-not-for-production",
}


def weak_secret(value: str) -> bool:
    """What production refuses as a secret: a placeholder, or under 32 characters."""
    return value in PLACEHOLDER_SECRETS or len(value) < 32


FAPI2 = "fapi2"
# FAPI 2.0 Security Profile §5.3.2.1: authorization codes live at most a minute.
FAPI2_CODE_TTL = 60
# What a FAPI 2.0 client may sign with (Security Profile §5.4.1): PS256,
# ES256 and EdDSA over Ed25519, here by RFC 9864's name Ed25519 and by the
# deprecated polymorphic EdDSA, which clients still write.
FAPI2_SIGNING_ALGORITHMS = ["PS256", "ES256", "Ed25519", "EdDSA"]
# What any client may sign with (client assertions, request objects, DPoP
# proofs): RS256 besides, for plain OIDC clients. Never HS* (a shared secret
# is no key of the client's), never none.
CLIENT_SIGNING_ALGORITHMS = [*FAPI2_SIGNING_ALGORITHMS, "RS256"]
SigningAlgorithm = Literal["PS256", "ES256", "Ed25519", "EdDSA", "RS256"]
# What the providers sign ID tokens and logout tokens with: their one RSA
# signing key (shared.oauth.provider.keys) under RS256, which OIDC Discovery
# requires offered, or PS256, the FAPI 2.0 §5.4.1 algorithm an RSA key
# makes. ES256 and EdDSA would need keys of their own.
ID_TOKEN_SIGNING_ALGORITHMS = ["RS256", "PS256"]
IdTokenSigningAlgorithm = Literal["RS256", "PS256"]


class ClientRegistration(BaseModel):
    """Client metadata beyond the client table's columns (RFC 7591 names),
    kept whole in its ``registration`` JSON column. The one list of these
    fields: :class:`ClientConfig` has them by inheritance, the provider's
    ``Client`` carries this object, the store writes and reads it whole."""

    require_pushed_authorization_requests: bool = Field(
        default=False, description="RFC 9126: /authorize serves this client only with a request_uri from the PAR endpoint."
    )
    jwks: dict[str, Any] | None = Field(
        default=None, description="The client's public keys (a JWK Set): request objects and private_key_jwt assertions."
    )
    jwks_uri: str | None = Field(default=None, description="Where the client publishes its public keys, instead of jwks.")
    dpop_bound_access_tokens: bool = Field(
        default=False, description="RFC 9449: the client's token requests must carry a DPoP proof; its tokens are bound to the key."
    )
    introspection_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] | None = Field(
        default=None,
        description="How the client authenticates at introspection and revocation, when not as at the token endpoint "
        "(a relying party on private_key_jwt that is also a resource server introspecting with its secret).",
    )
    profile: Literal["fapi2"] | None = Field(
        default=None,
        description="fapi2: the FAPI 2.0 Security Profile. Implies PAR and DPoP-bound tokens, needs private_key_jwt "
        "(mTLS is not offered), codes live at most 60 s; a weaker setting beside it is refused.",
    )

    token_endpoint_auth_signing_alg: SigningAlgorithm | None = Field(
        default=None,
        description="OIDC Registration §2: the one algorithm the client signs its private_key_jwt assertions with; "
        "assertions signed otherwise are refused.",
    )
    request_object_signing_alg: SigningAlgorithm | None = Field(
        default=None,
        description="OIDC Registration §2: the one algorithm the client signs its request objects with; others are refused.",
    )
    id_token_signed_response_alg: IdTokenSigningAlgorithm | None = Field(
        default=None,
        description="OIDC Registration §2: what the provider signs the client's ID tokens (and back-channel logout tokens) "
        "with; unset, PS256 for a fapi2 client, RS256 otherwise.",
    )

    @property
    def is_fapi2(self) -> bool:
        return self.profile == FAPI2

    def signing_algorithms(self, registered: str | None = None) -> list[str]:
        """What the client may sign a JWS with: the one algorithm it
        ``registered`` for that use, else what its profile allows (FAPI 2.0
        §5.4.1 for fapi2, RS256 too otherwise)."""
        if registered is not None:
            return [registered]
        return FAPI2_SIGNING_ALGORITHMS if self.is_fapi2 else CLIENT_SIGNING_ALGORITHMS

    @property
    def id_token_alg(self) -> str:
        """What the provider signs this client's ID tokens with (FAPI 2.0
        §5.4.1 for fapi2: PS256 unless it registered otherwise)."""
        return self.id_token_signed_response_alg or ("PS256" if self.is_fapi2 else "RS256")


class ClientConfig(ClientRegistration):
    """A registered OAuth client, as configured (never hard-coded)."""

    client_id: str = Field(description="The client identifier.")
    client_secret: SecretStr | None = Field(default=None, description="Plain secret; stored hashed. None for public clients.")
    client_name: str = Field(default="", description="Name shown on consent and logout pages.")
    redirect_uris: list[str] = Field(description="Exact redirect URIs (no wildcards).")
    post_logout_redirect_uris: list[str] = Field(default_factory=list)
    backchannel_logout_uri: str | None = Field(default=None)
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code", "refresh_token"])
    scope: str = Field(default="openid profile")
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] = "client_secret_basic"
    introspection_allowed: bool = Field(default=False, description="May call the introspection endpoint (resource servers).")

    @model_validator(mode="after")
    def _keys_for_private_key_jwt(self) -> ClientConfig:
        if self.token_endpoint_auth_method == "private_key_jwt" and not (self.jwks or self.jwks_uri):
            raise ValueError(f"client {self.client_id!r}: private_key_jwt needs jwks or jwks_uri")
        if self.jwks and self.jwks_uri:
            raise ValueError(f"client {self.client_id!r}: jwks and jwks_uri are exclusive (RFC 7591 §2)")
        return self

    @model_validator(mode="after")
    def _fapi2_profile(self) -> ClientConfig:
        """FAPI 2.0 Security Profile §5.3.2: what the profile implies is set;
        a weaker setting written beside it is a configuration error, never
        silently strengthened (the operator meant something else)."""
        if not self.is_fapi2:
            return self
        weaker = [
            name
            for name in ("require_pushed_authorization_requests", "dpop_bound_access_tokens")
            if name in self.model_fields_set and not getattr(self, name)
        ]
        weaker += [
            f"{name}={getattr(self, name)} (FAPI 2.0 §5.4.1 allows {', '.join(FAPI2_SIGNING_ALGORITHMS)})"
            for name in ("token_endpoint_auth_signing_alg", "request_object_signing_alg", "id_token_signed_response_alg")
            if getattr(self, name) not in (None, *FAPI2_SIGNING_ALGORITHMS)
        ]
        if self.token_endpoint_auth_method != "private_key_jwt":
            # mTLS client authentication (RFC 8705) needs TLS termination this deployment does not run.
            weaker.append(f"token_endpoint_auth_method={self.token_endpoint_auth_method} (FAPI 2.0 here needs private_key_jwt)")
        if weaker:
            raise ValueError(f"client {self.client_id!r} has profile fapi2 but weaker settings: {', '.join(weaker)}")
        self.require_pushed_authorization_requests = True
        self.dpop_bound_access_tokens = True
        return self

    def registration(self) -> ClientRegistration:
        """What the client table's ``registration`` column holds for this client."""
        return ClientRegistration(**{name: getattr(self, name) for name in ClientRegistration.model_fields})


def client_destinations(clients: list[ClientConfig]) -> list[str]:
    """Where a provider sends the browser back to: every client's redirect and post-logout URIs."""
    return [uri for client in clients for uri in [*client.redirect_uris, *client.post_logout_redirect_uris]]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter="__")

    environment: Literal["development", "test", "production"] = Field(
        default="production", description="development enables demo data and the SMS outbox page."
    )
    database_url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///var/idp.db or postgresql+psycopg://…")
    redis_url: str | None = Field(default=None, description="When set, sessions, rate limits and one-time state live in Redis.")
    redis_key_prefix: str = Field(
        default="", description="Put before every Redis key of this service, so that several deployments (or test runs) share one Redis."
    )
    redis_socket_timeout: float = Field(
        default=0.5, gt=0, description="Seconds one Redis call may take before the request fails (503) instead of hanging."
    )
    redis_connect_timeout: float = Field(default=0.5, gt=0, description="Seconds to open a connection to Redis.")
    redis_health_check_interval: int = Field(
        default=15, ge=0, description="A Redis connection idle this long is pinged before reuse (s; 0: never)."
    )
    secret_key: SecretStr = Field(description="Signs CSRF tokens and encrypts signing keys at rest.")
    public_url: str = Field(description="This service's external base URL, no trailing slash.")
    cookie_secure: bool = Field(default=True, description="Send cookies only over HTTPS.")
    session_idle_seconds: int = Field(default=1800, description="Server-side session idle timeout.")
    db_pool_size: int = Field(default=16, description="Database connections per process; request threads are capped to the same number.")
    db_async_pool_size: int = Field(
        default=4,
        ge=1,
        description="PostgreSQL connections per process for the hot paths: token, introspection, the refund API (asyncpg).",
    )
    trusted_proxies: str = Field(default="", description="Comma-separated addresses of the TLS proxies whose X-Forwarded-For is believed.")
    readiness_timeout: float = Field(
        default=2.0, gt=0, description="Seconds /readyz waits for each of the database and Redis before answering 503."
    )
    worker_purge_interval: int = Field(default=3600, gt=0, description="How often `manage worker` deletes expired rows (s).")
    metrics_port: int | None = Field(
        default=None,
        description="Serve /metrics (Prometheus) on this port, apart from the service's own; "
        "outside production the service's own port answers /metrics too.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address of the metrics port: an internal interface (0.0.0.0 in a container whose port is not published).",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="Export OpenTelemetry traces by OTLP/HTTP to this collector base URL (e.g. http://otel-collector:4318); "
        "the standard OTEL_EXPORTER_OTLP_ENDPOINT works too. Unset (and that unset): tracing is off.",
    )
    hotline: str = Field(default="12345", description="咨询电话: the one number this service's pages give (footer, help, error pages).")
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=True, description="One JSON object per log line.")

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> ServiceSettings:
        if self.environment == "production":
            if weak_secret(self.secret_key.get_secret_value()):
                raise ValueError("secret_key must be a real secret of at least 32 characters in production")
            if not self.cookie_secure:
                raise ValueError("cookie_secure must be true in production")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment == "development"


class ProviderSettings(ServiceSettings):
    """What every OpenID Provider service configures (gdzwfw_idp, hrss_isso)."""

    clients: list[ClientConfig] = Field(default_factory=list, description="Registered OAuth clients (JSON list).")
    demo_data: bool = Field(default=True, description="Load demo data and the demo-rp client (development only).")
    code_ttl: int = Field(default=60, description="Authorization code lifetime (s).")
    access_token_ttl: int = Field(default=900, description="Access token lifetime (s).")
    refresh_token_ttl: int = Field(default=8 * 3600, description="Refresh token lifetime (s).")
    id_token_ttl: int = Field(default=600, description="ID token lifetime (s); retired signing keys stay published this long.")
    backchannel_logout_max_age: int = Field(
        default=24 * 3600,
        gt=0,
        description="Back-channel logout notices a client has not accepted by then are dropped, with a log line (s).",
    )
    backchannel_logout_retry_max_delay: int = Field(
        default=900, gt=0, description="The longest wait between two delivery attempts of a back-channel logout notice (s)."
    )
    require_pushed_authorization_requests: bool = Field(
        default=False, description="RFC 9126, server-wide: /authorize serves every client only with a request_uri from the PAR endpoint."
    )
    par_ttl: int = Field(
        default=60, gt=0, le=600, description="Lifetime of a pushed authorization request's request_uri (s); each is usable once."
    )
    dpop_nonce_required: bool = Field(
        default=False, description="RFC 9449 §8: DPoP proofs must carry a server nonce (answered use_dpop_nonce with DPoP-Nonce)."
    )

    @property
    def loads_demo_data(self) -> bool:
        return self.is_development and self.demo_data


def parse_clients(raw: str | list | None) -> list[ClientConfig]:
    """Clients come as a JSON list in one setting (env var or file)."""
    if raw is None or raw == "":
        return []
    data = json.loads(raw) if isinstance(raw, str) else raw
    return [ClientConfig.model_validate(item) for item in data]
