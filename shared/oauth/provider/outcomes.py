"""What the authorization endpoint decides (``Provider.authorize`` and its
first-request shortcut ``HotPaths.authorize``), for the routes to turn into a
page or a redirect (``routes.outcome_response``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared.oauth.adapter import AuthlibResponse
from shared.oauth.provider.interaction import Interaction
from shared.oauth.provider.models import Principal
from shared.trust import TrustLevel

__all__ = ["Respond", "ErrorPage", "Login", "Unmet", "ConfirmLogout", "Decision"]


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


@dataclass
class Decision:
    """What a valid authorization request comes to (``Provider.decide``),
    before its interaction is parked or finished (``Provider.conclude``):
    ``login`` (the user must log in), ``unmet`` (logged in below the level the
    request requires) or ``done`` (``response`` carries the code; its row is
    written by whoever decided, before the browser is sent on)."""

    kind: Literal["login", "unmet", "done"]
    grant: Any
    principal: Principal | None
    required: TrustLevel | None = None
    response: AuthlibResponse | None = None
