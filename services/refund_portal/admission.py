"""The L2 gate (DESIGN.md): 稳岗返还 admits a unit only at L2 or higher.

The level is read from the ``acr`` the portal received and verified, never
from what it asked for.

The API also checks what the token was issued for (its OAuth ``scope``):
``refund.read`` to read, ``refund.confirm`` to decide (which includes reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.refund_portal.settings import RefundSettings
from shared.trust import TrustLevel

__all__ = [
    "REQUIRED_LEVEL",
    "STEP_UP_URL",
    "READ",
    "CONFIRM",
    "ScopeNeed",
    "admitted",
    "insufficient_challenge",
    "insufficient_scope_challenge",
    "invalid_token_challenge",
    "upgrade_url",
]

REQUIRED_LEVEL = TrustLevel.L2
# A new authorization request requiring L2, back to the home page.
STEP_UP_URL = f"/login?acr_values={REQUIRED_LEVEL.acr}&next=/"


@dataclass(frozen=True)
class ScopeNeed:
    """What an endpoint needs: ``scope`` is named in the challenge (RFC 6750
    §3: the scope needed), any one of ``accepted`` will do."""

    scope: str
    accepted: frozenset[str]

    def met_by(self, granted: str | None) -> bool:
        return not self.accepted.isdisjoint((granted or "").split())


# A client that may confirm reads too: it must see the record it decides on.
READ = ScopeNeed("refund.read", frozenset({"refund.read", "refund.confirm"}))
CONFIRM = ScopeNeed("refund.confirm", frozenset({"refund.confirm"}))


def admitted(acr: str | None) -> bool:
    level = TrustLevel.from_acr(acr)
    return level is not None and level >= REQUIRED_LEVEL


def upgrade_url(settings: RefundSettings, unit: dict[str, Any]) -> str:
    """Where this login can raise its level: always through a new
    authorization request requiring L2. The ISSO keeps it waiting (its
    interaction) through the detour that applies: a provincial legal person
    to gdzwfw_idp's 实名核验, a handler to 授权码实名, a unit account to
    省统一身份认证 with a 法人 account; each comes back here at the end."""
    return STEP_UP_URL


def insufficient_challenge(scheme: str = "Bearer") -> str:
    """RFC 9470 §3: the step-up challenge (``scheme``: as the token was presented, Bearer or DPoP)."""
    return (
        f'{scheme} error="insufficient_user_authentication", '
        'error_description="A trust level of L2 or higher is required", '
        f'acr_values="{REQUIRED_LEVEL.acr}"'
    )


def invalid_token_challenge(scheme: str = "Bearer") -> str:
    return f'{scheme} error="invalid_token"'


def insufficient_scope_challenge(need: ScopeNeed, scheme: str = "Bearer") -> str:
    """RFC 6750 §3.1: the token is good but not issued for this."""
    return f'{scheme} error="insufficient_scope", scope="{need.scope}"'
