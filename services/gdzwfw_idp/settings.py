"""gdzwfw_idp settings, environment prefix ``GDZWFW_``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ProviderSettings
from shared.staff_totp import DEV_STAFF_TOTP_KEY, StaffTotpSettings

__all__ = ["IdpSettings", "DATA_DIR", "LICENCE_SCOPE", "DEV_STAFF_TOTP_KEY"]

DATA_DIR = Path(__file__).parent / "data"
# The seed: 电子营业执照的授权事项为“电子政务-市场监管-政务服务网”.
LICENCE_SCOPE = "电子政务-市场监管-政务服务网"
# devtools/ca_helper.py's loopback port: the 「CA助手」 stand-in in development.
DEV_CA_HELPER_URL = "http://127.0.0.1:18880"


class IdpSettings(ProviderSettings, StaffTotpSettings):
    """The staff console's TOTP settings (``GDZWFW_STAFF_TOTP_KEYS``, …) come from :class:`StaffTotpSettings`."""

    model_config = SettingsConfigDict(env_prefix="GDZWFW_", extra="ignore")

    login_max_failures: int = Field(default=5, description="Wrong passwords before an account is locked.")
    login_lock_seconds: int = Field(default=900, description="How long a locked account stays locked.")
    login_max_per_address: int = Field(default=30, description="Failed logins per client address per lock window.")

    # -- registries (DESIGN.md § Stand-ins: reference tables loaded from CSV) --
    legal_person_registry_csv: str | None = Field(
        default=None,
        description="法人基础库 extract (CSV: uscc,org_name,org_type,legal_rep_name,legal_rep_id_number,status,address). "
        "Unset: the shipped demo file in development, none (registration refused) otherwise.",
    )
    population_registry_csv: str | None = Field(
        default=None, description="人口库 extract (CSV: id_number,name). Unset: the shipped demo file in development."
    )

    # -- SMS ------------------------------------------------------------------
    sms_gateway_url: str | None = Field(
        default=None, description="HTTP SMS gateway; unset: the outbox table (read it at /dev/sms in development)."
    )
    sms_gateway_token: str | None = Field(default=None, description="Bearer token for the SMS gateway.")
    sms_code_ttl: int = Field(default=300, description="SMS code lifetime (s).")
    sms_resend_seconds: int = Field(default=60, description="Minimum time between two codes to one number (s).")
    sms_per_number_per_day: int = Field(default=10, description="Codes one number may receive per day.")
    sms_per_address_per_hour: int = Field(default=30, description="Codes one client address may request per hour.")

    # -- one-time sessions (QR codes) and wizards -------------------------------
    qr_ttl: int = Field(default=180, description="How long a QR code (face check, electronic licence) stays usable (s).")
    wizard_ttl: int = Field(default=1800, description="How long an unfinished registration is kept in the session (s).")
    stand_ins: bool | None = Field(
        default=None,
        description="Mount the development stand-ins (WeChat face-check and licence-wallet mini-programs). Unset: only in development.",
    )

    # -- certificates (网银证书 → L2, 企业/单位CA证书 → L3) ------------------------
    bank_ca_files: list[str] = Field(default_factory=list, description="PEM files of the trusted online-bank root CAs (网银证书核验).")
    enterprise_ca_files: list[str] = Field(
        default_factory=list, description="PEM files of the trusted enterprise CAs (企业/单位CA证书核验)."
    )
    crl_files: list[str] = Field(
        default_factory=list, description="PEM/DER CRLs; every CA in a chain below its anchor needs a current one."
    )
    challenge_ttl: int = Field(default=300, description="How long a certificate challenge stays usable (s).")
    dev_certs_dir: str = Field(
        default="var/certs",
        description="Development only: when no CA files are configured, the test PKI written here by `python -m devtools.certs`.",
    )
    ca_helper_url: str | None = Field(
        default=None,
        description="Where certificate pages look for the local 「CA助手」 (数字证书客户端) that signs their challenge; "
        f"empty: none, paste only. Unset: {DEV_CA_HELPER_URL} (`python -m devtools.ca_helper serve`) in development, none otherwise.",
    )

    # -- electronic business licence (电子营业执照) -----------------------------
    licence_authority_public_key_file: str | None = Field(
        default=None, description="PEM public key (P-256) of the licence authority (ES256)."
    )
    licence_authority_issuer: str = Field(default="urn:gd:samr:licence-authority", description="The `iss` of licence assertions.")
    licence_scope: str = Field(default=LICENCE_SCOPE, description="Required authorisation scope of a licence assertion.")
    licence_assertion_max_age: int = Field(default=300, description="Longest accepted lifetime of a licence assertion (s).")

    @property
    def stand_ins_enabled(self) -> bool:
        return self.is_development if self.stand_ins is None else (self.stand_ins and self.is_development)

    @property
    def ca_helper(self) -> str:
        """The local 「CA助手」 the certificate pages talk to ("" = none)."""
        if self.ca_helper_url is not None:
            return self.ca_helper_url.rstrip("/")
        return DEV_CA_HELPER_URL if self.is_development else ""

    def registry_csv(self, which: str) -> Path | None:
        configured = self.legal_person_registry_csv if which == "legal" else self.population_registry_csv
        if configured:
            return Path(configured)
        if self.is_development:
            return DATA_DIR / ("legal_person_registry.csv" if which == "legal" else "population_registry.csv")
        return None

    def certificate_files(self) -> tuple[list[str], list[str], list[str]]:
        """Bank anchors, enterprise anchors and CRLs: as configured, or in
        development the generated test PKI when it exists."""
        if self.bank_ca_files or self.enterprise_ca_files:
            return self.bank_ca_files, self.enterprise_ca_files, self.crl_files
        if self.is_development:
            root = Path(self.dev_certs_dir)
            bank = [root / "bank" / "root-ca.pem"]
            ca = [root / "ca" / "root-ca.pem"]
            crls = [root / "bank" / "root-ca.crl.pem", root / "bank" / "issuing-ca.crl.pem", root / "ca" / "root-ca.crl.pem"]
            return ([str(p) for p in bank if p.exists()], [str(p) for p in ca if p.exists()], [str(p) for p in crls if p.exists()])
        return [], [], []

    def licence_key_file(self) -> Path | None:
        if self.licence_authority_public_key_file:
            return Path(self.licence_authority_public_key_file)
        if self.is_development:
            path = Path(self.dev_certs_dir) / "licence" / "authority-public.pem"
            return path if path.exists() else None
        return None

    def dev_licence_private_key_file(self) -> Path | None:
        """The wallet stand-in's signing key (development only)."""
        if not self.stand_ins_enabled:
            return None
        if self.licence_authority_public_key_file:
            candidate = Path(self.licence_authority_public_key_file).with_name("authority-key.pem")
        else:
            candidate = Path(self.dev_certs_dir) / "licence" / "authority-key.pem"
        return candidate if candidate.exists() else None
