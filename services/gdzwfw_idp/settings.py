"""gdzwfw_idp settings, environment prefix ``GDZWFW_``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ClientConfig, ServiceSettings

__all__ = ["IdpSettings"]


class IdpSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GDZWFW_", extra="ignore")

    clients: list[ClientConfig] = Field(default_factory=list, description="Registered OAuth clients (JSON list).")
    demo_data: bool = Field(default=True, description="Load demo accounts and the demo-rp client (development only).")
    login_max_failures: int = Field(default=5, description="Wrong passwords before an account is locked.")
    login_lock_seconds: int = Field(default=900, description="How long a locked account stays locked.")
    login_max_per_address: int = Field(default=30, description="Login attempts per client address per lock window.")
    code_ttl: int = Field(default=60, description="Authorization code lifetime (s).")
    access_token_ttl: int = Field(default=900, description="Access token lifetime (s).")
    refresh_token_ttl: int = Field(default=8 * 3600, description="Refresh token lifetime (s).")
    id_token_ttl: int = Field(default=600, description="ID token lifetime (s); retired keys stay published this long.")
