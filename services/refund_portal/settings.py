"""refund_portal settings, environment prefix ``REFUND_``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

__all__ = ["RefundSettings"]


class RefundSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFUND_", extra="ignore")

    isso_issuer: str = Field(description="Issuer URL of 广东人社统一认证 (hrss_isso), e.g. http://127.0.0.1:8002/isso.")
    isso_client_id: str = Field(default="refund-portal", description="This service's client id at hrss_isso.")
    isso_client_secret: SecretStr = Field(description="This service's client secret at hrss_isso.")
    isso_timeout: float = Field(default=10.0, description="Seconds to wait for hrss_isso's back channel.")
    introspection_cache_seconds: int = Field(
        default=30, description="Upper bound on how long an introspection result is reused (a revoked token is refused after this)."
    )
    gdzwfw_verification_url: str = Field(description="gdzwfw_idp's 实名核验 page, linked when a unit is below L2.")
