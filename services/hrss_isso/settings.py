"""hrss_isso settings, environment prefix ``ISSO_``."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.hrss_isso.models import MATERIAL_CONTENT_MAX_BYTES
from shared.settings import ProviderSettings
from shared.staff_totp import StaffTotpSettings

__all__ = ["IssoSettings", "DEFAULT_POPULATION_REGISTRY", "API_SCOPES"]

DEFAULT_POPULATION_REGISTRY = Path(__file__).parent / "data" / "population_registry.csv"
# The refund portal's API (services/refund_portal/api.py): reading a unit's
# records, and confirming them (which also lets a client read).
API_SCOPES = ("refund.read", "refund.confirm")
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")  # RFC 6749 §3.3 scope-token


class IssoSettings(ProviderSettings, StaffTotpSettings):
    """The agency console's TOTP settings (``ISSO_STAFF_TOTP_KEYS``, …) come from :class:`StaffTotpSettings`."""

    model_config = SettingsConfigDict(env_prefix="ISSO_", extra="ignore")

    hotline: str = Field(default="12333", description="咨询电话 of 广东人社 (12333) shown on the ISSO's pages.")
    gdzwfw_issuer: str = Field(description="Issuer URL of 广东省统一身份认证平台.")
    gdzwfw_client_id: str = Field(default="hrss-isso", description="This service's client id at gdzwfw_idp.")
    gdzwfw_client_secret: SecretStr = Field(description="This service's client secret at gdzwfw_idp.")
    gdzwfw_client_private_key: SecretStr | None = Field(
        default=None,
        description="Private JWK (EC P-256 or RSA, JSON) of this service's private_key_jwt at gdzwfw_idp, published at "
        "/isso/federation/gdzwfw/jwks.json. Unset: derived from the secret key in development; the client secret elsewhere.",
    )
    gdzwfw_timeout: float = Field(default=10.0, description="Seconds to wait for gdzwfw_idp's back channel.")
    api_scopes: list[str] = Field(
        default_factory=lambda: list(API_SCOPES),
        description="Scopes of the HRSS APIs that accept this provider's access tokens (DESIGN.md: refund.read, refund.confirm "
        "at refund_portal). Published in scopes_supported; a client gets one only when its ClientConfig.scope lists it.",
    )

    # Accounts and login
    password_max_keyboard_run: int = Field(
        default=3, ge=1, description="Longest run of consecutive keyboard characters a password may contain (the seed gives 3 and 4)."
    )
    login_max_failures: int = Field(default=5, description="Wrong passwords before an account is locked.")
    login_lock_seconds: int = Field(default=900, description="How long a locked account stays locked.")
    login_max_per_address: int = Field(default=30, description="Failed logins per client address per lock window.")
    check_max_failures: int = Field(
        default=5, description="Failed checks (实名核验, 授权码, 找回) per account or address per lock window before a pause."
    )

    # Stand-ins and storage
    population_registry_csv: Path = Field(
        default=DEFAULT_POPULATION_REGISTRY,
        description="The population registry (人口库) stand-in: a CSV of id_number,name,valid_until,status.",
    )
    # Materials are kept in the database (material_content); ISSO_UPLOAD_DIR, where
    # they were kept before, is read only by the migration that moved them (0008).
    upload_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        gt=0,
        le=MATERIAL_CONTENT_MAX_BYTES,
        description="Largest accepted material file (bytes); at most 16 MiB, what the database accepts.",
    )
    authorization_code_ttl_days: int = Field(default=30, description="Days an approved, unused unit authorisation code stays valid.")

    # SMS
    sms_sign: str = Field(default="【广东人社】", description="Signature in front of every text message.")
    sms_gateway_url: str | None = Field(default=None, description="Operator SMS gateway; unset keeps messages in the outbox table.")
    sms_gateway_token: SecretStr | None = Field(default=None, description="Bearer token for the SMS gateway.")

    @field_validator("api_scopes")
    @classmethod
    def _scope_tokens(cls, scopes: list[str]) -> list[str]:
        bad = [s for s in scopes if not _SCOPE_TOKEN.fullmatch(s)]
        if bad:
            raise ValueError(f"not scope tokens (RFC 6749 §3.3: no spaces, quotes or backslashes): {bad}")
        return scopes

    @property
    def issuer(self) -> str:
        return f"{self.public_url}/isso"

    @property
    def gdzwfw_verification_url(self) -> str:
        return f"{self.gdzwfw_issuer.rstrip('/')}/account/verification"
