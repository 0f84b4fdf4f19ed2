"""The L2 gate (DESIGN.md): 稳岗返还 admits a unit only at L2 or higher.

The level is read from the ``acr`` the portal received and verified, never
from what it asked for.
"""

from __future__ import annotations

from shared.trust import TrustLevel

__all__ = ["REQUIRED_LEVEL", "admitted", "insufficient_challenge", "invalid_token_challenge"]

REQUIRED_LEVEL = TrustLevel.L2


def admitted(acr: str | None) -> bool:
    level = TrustLevel.from_acr(acr)
    return level is not None and level >= REQUIRED_LEVEL


def insufficient_challenge() -> str:
    """RFC 9470 §3: the step-up challenge."""
    return (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A trust level of L2 or higher is required", '
        f'acr_values="{REQUIRED_LEVEL.acr}"'
    )


def invalid_token_challenge() -> str:
    return 'Bearer error="invalid_token"'
