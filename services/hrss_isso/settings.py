"""hrss_isso settings, environment prefix ``ISSO_``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ProviderSettings

__all__ = ["IssoSettings"]


class IssoSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ISSO_", extra="ignore")

    gdzwfw_issuer: str = Field(description="Issuer URL of 广东省统一身份认证平台.")
    gdzwfw_client_id: str = Field(default="hrss-isso", description="This service's client id at gdzwfw_idp.")
    gdzwfw_client_secret: SecretStr = Field(description="This service's client secret at gdzwfw_idp.")
    gdzwfw_timeout: float = Field(default=10.0, description="Seconds to wait for gdzwfw_idp's back channel.")

    @property
    def issuer(self) -> str:
        return f"{self.public_url}/isso"

    @property
    def gdzwfw_verification_url(self) -> str:
        return f"{self.gdzwfw_issuer.rstrip('/')}/account/verification"
