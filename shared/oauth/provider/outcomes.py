"""What the authorization endpoint decides (``Provider.authorize`` and its
first-request shortcut ``HotPaths.authorize``), for the routes to turn into a
page or a redirect (``routes.outcome_response``)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.oauth.adapter import AuthlibResponse
from shared.oauth.provider.interaction import Interaction
from shared.oauth.provider.models import Principal
from shared.trust import TrustLevel

__all__ = ["Respond", "ErrorPage", "Login", "Unmet", "ConfirmLogout"]


@dataclass
class Respond:
    response: AuthlibResponse


@dataclass
class ErrorPage:
    """Nothing may be sent to the client (unknown client, unregistered
    redirect URI): RFC 6749 §4.1.2.1 forbids redirecting."""

    error: str
    description: str


@dataclass
class Login:
    interaction: Interaction
    url: str


@dataclass
class Unmet:
    interaction: Interaction
    principal: Principal
    required: TrustLevel
    upgrade_url: str | None


@dataclass
class ConfirmLogout:
    client_name: str | None
