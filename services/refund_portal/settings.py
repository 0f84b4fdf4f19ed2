"""refund_portal settings, environment prefix ``REFUND_``."""

from __future__ import annotations

import re
from decimal import Decimal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, weak_secret
from shared.staff_totp import StaffTotpSettings

__all__ = ["RefundSettings", "PolicyRule", "DEFAULT_POLICY_RULES", "AUDIT_KEY_ID"]

# Stored with every audit entry (audit_entry.key_id, 20 characters).
AUDIT_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")
LEGACY_HEAD = re.compile(r"[1-9][0-9]{0,17}:[0-9a-f]{64}")


class PolicyRule(BaseModel):
    """One year's 稳岗返还 rule (粤人社规 style): the ratio of last year's
    premiums paid by the unit and its staff that is refunded, by enterprise
    size, and the conditions a unit must meet. Ratios are exact decimals."""

    year: int = Field(description="The refund year (年度); premiums and layoffs are those of the year before.")
    ratio_sme: Decimal = Field(default=Decimal("0.60"), ge=0, le=1, description="Refund ratio for 中小微企业.")
    ratio_large: Decimal = Field(default=Decimal("0.30"), ge=0, le=1, description="Refund ratio for 大型企业.")
    layoff_rate_cap: Decimal = Field(
        default=Decimal("0.055"), ge=0, le=1, description="Highest layoff rate admitted (上年度全国城镇调查失业率控制目标)."
    )
    small_unit_headcount: int = Field(default=30, ge=0, description="Units with at most this many insured staff use the small-unit cap.")
    small_unit_layoff_rate_cap: Decimal = Field(
        default=Decimal("0.20"), ge=0, le=1, description="Highest layoff rate for units at or below small_unit_headcount."
    )
    arrears_allowed: bool = Field(default=False, description="Whether a unit in arrears (欠费) may still be refunded.")

    @field_validator("ratio_sme", "ratio_large", "layoff_rate_cap", "small_unit_layoff_rate_cap", mode="before")
    @classmethod
    def _no_floats(cls, v: object) -> object:
        # 0.6 as a float is not 0.6: ratios come as strings or Decimals.
        if isinstance(v, float):
            raise ValueError('give ratios as strings, e.g. "0.60", never as floating-point numbers')
        return v


DEFAULT_POLICY_RULES = [PolicyRule(year=2025), PolicyRule(year=2026)]


class RefundSettings(ServiceSettings, StaffTotpSettings):
    """The agency console's TOTP settings (``REFUND_STAFF_TOTP_KEYS``, …) come from :class:`StaffTotpSettings`."""

    model_config = SettingsConfigDict(env_prefix="REFUND_", extra="ignore")

    hotline: str = Field(default="12333", description="咨询电话 of 广东人社 (12333) shown on the portal's pages.")
    isso_issuer: str = Field(description="Issuer URL of 广东人社统一认证 (hrss_isso), e.g. http://127.0.0.1:8002/isso.")
    isso_client_id: str = Field(default="refund-portal", description="This service's client id at hrss_isso.")
    isso_client_secret: SecretStr = Field(
        description="This service's client secret at hrss_isso (introspection; logins too when it has no private key)."
    )
    isso_client_private_key: SecretStr | None = Field(
        default=None,
        description="Private JWK (EC P-256 or RSA, JSON) of this service's private_key_jwt at hrss_isso, published at "
        "/auth/jwks.json. Unset: derived from the secret key in development; the client secret elsewhere.",
    )
    isso_timeout: float = Field(default=10.0, description="Seconds to wait for hrss_isso's back channel.")
    introspection_cache_seconds: int = Field(
        default=30, description="Upper bound on how long an introspection result is reused (a revoked token is refused after this)."
    )
    api_dpop_nonce_required: bool = Field(
        default=False,
        description="RFC 9449 §9: the API's DPoP proofs must carry a nonce it issued (401 use_dpop_nonce with DPoP-Nonce "
        "otherwise). The nonces are derived from the secret key and the time, so every replica issues and accepts the same.",
    )
    gdzwfw_verification_url: str = Field(
        description="gdzwfw_idp's 实名核验 page, linked (besides the step-up login) when a provincial unit is below L2."
    )
    demo_data: bool = Field(default=True, description="Load demo refund records and staff accounts (development only).")
    policy_rules: list[PolicyRule] = Field(
        default_factory=lambda: list(DEFAULT_POLICY_RULES),
        description="稳岗返还 rules per year (JSON list of PolicyRule); a list can only be imported for a configured year.",
    )
    staff_login_max_failures: int = Field(default=5, description="Wrong passwords before a staff account is locked.")
    staff_login_lock_seconds: int = Field(default=900, description="How long a locked staff account stays locked.")
    staff_login_max_per_address: int = Field(default=30, description="Failed staff logins per client address per lock window.")
    import_max_bytes: int = Field(default=5 * 1024 * 1024, description="Largest eligibility-list file accepted (bytes).")
    import_max_rows: int = Field(default=20000, description="Most data rows in one eligibility-list file.")
    import_background_bytes: int = Field(
        default=256 * 1024,
        description="A list file larger than this (bytes; about 2,500 rows of CSV) is imported in the background, its page "
        "showing the rows read and errors so far; a smaller one at once.",
    )
    import_upload_seconds: int = Field(
        default=3600, description="How long a refused file is kept so the operator can import its good rows only."
    )
    audit_keys: dict[str, SecretStr] = Field(
        description="HMAC-SHA256 keys of the audit log as a JSON object, key id → secret, newest first: the first one signs "
        "new entries, every one listed verifies the entries it signed. To rotate, put a new key in front and keep the old ones "
        "for as long as their entries must verify. Ids: 1–20 of letters, digits, '.', '_', '-'.",
    )
    audit_legacy_head: str | None = Field(
        default=None,
        description="Only for a log begun before audit_keys existed: its last unkeyed entry as '<seq>:<hash>', copied from the "
        "operator's own record of the head (the audit page, `audit verify`) before upgrading. Entries up to it verify as "
        "plain SHA-256; unset, any unkeyed entry is reported.",
    )

    @field_validator("policy_rules")
    @classmethod
    def _one_rule_per_year(cls, rules: list[PolicyRule]) -> list[PolicyRule]:
        years = [r.year for r in rules]
        if len(years) != len(set(years)):
            raise ValueError("policy_rules has more than one rule for a year")
        return rules

    @field_validator("audit_keys")
    @classmethod
    def _audit_key_ids(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        if not keys:
            raise ValueError("audit_keys needs at least one key (key id → secret)")
        bad = [k for k in keys if not AUDIT_KEY_ID.fullmatch(k)]
        if bad:
            raise ValueError(f"audit key ids must be 1–20 of letters, digits, '.', '_', '-': {bad}")
        return keys

    @field_validator("audit_legacy_head")
    @classmethod
    def _legacy_head(cls, value: str | None) -> str | None:
        if value is not None and not LEGACY_HEAD.fullmatch(value):
            raise ValueError("audit_legacy_head must be '<seq>:<64 hex digits>', the last unkeyed entry's number and hash")
        return value

    @model_validator(mode="after")
    def _real_audit_keys(self) -> RefundSettings:
        # Retired keys too: entries they signed still verify with them.
        if self.environment == "production":
            weak = [k for k, v in self.audit_keys.items() if weak_secret(v.get_secret_value())]
            if weak:
                raise ValueError(f"audit_keys {weak}: each must be a real secret of at least 32 characters in production")
        return self

    @property
    def audit_legacy_anchor(self) -> tuple[int, str] | None:
        if self.audit_legacy_head is None:
            return None
        seq, _, digest = self.audit_legacy_head.partition(":")
        return int(seq), digest

    @property
    def loads_demo_data(self) -> bool:
        return self.is_development and self.demo_data
