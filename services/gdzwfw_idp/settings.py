"""gdzwfw_idp settings, environment prefix ``GDZWFW_``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ProviderSettings

__all__ = ["IdpSettings"]


class IdpSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="GDZWFW_", extra="ignore")

    login_max_failures: int = Field(default=5, description="Wrong passwords before an account is locked.")
    login_lock_seconds: int = Field(default=900, description="How long a locked account stays locked.")
    login_max_per_address: int = Field(default=30, description="Failed logins per client address per lock window.")
