"""The province's trust-level vocabulary (可信等级), DESIGN.md § Trust levels.

Levels are ordered (L1 < L2 < L3) and travel in the standard ``acr`` claim as
``urn:gdzwfw:loa:Ln`` and in a ``trust_level`` claim as ``Ln``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable

__all__ = ["TrustLevel", "ACR_PREFIX", "acr_values_param", "lowest_requested", "require_level_claims"]

ACR_PREFIX = "urn:gdzwfw:loa:"


@enum.unique
class TrustLevel(enum.IntEnum):
    L1 = 1
    L2 = 2
    L3 = 3

    @property
    def acr(self) -> str:
        return f"{ACR_PREFIX}{self.name}"

    @property
    def label(self) -> str:
        """The seed's wording, e.g. 四级（原L2）."""
        return _LABELS[self]

    @classmethod
    def from_acr(cls, acr: str | None) -> TrustLevel | None:
        """Parse an ``acr`` URI; anything unknown is ``None`` (never a level)."""
        if not acr or not acr.startswith(ACR_PREFIX):
            return None
        return cls.__members__.get(acr[len(ACR_PREFIX) :])

    @classmethod
    def from_name(cls, name: str | None) -> TrustLevel | None:
        return cls.__members__.get(name or "")


_LABELS = {TrustLevel.L1: "三级（原L1）", TrustLevel.L2: "四级（原L2）", TrustLevel.L3: "五级（原L3）"}


def lowest_requested(acr_values: Iterable[str]) -> TrustLevel | None:
    """The weakest of the known levels a client listed (its minimum).

    Unknown values are ignored, as OIDC Core §5.5.1.1 lets a provider do.
    """
    levels = [lvl for v in acr_values if (lvl := TrustLevel.from_acr(v)) is not None]
    return min(levels) if levels else None


def acr_values_param(level: TrustLevel) -> str:
    return level.acr


def require_level_claims(level: TrustLevel, claims_param: str = "") -> str:
    """An OIDC ``claims`` parameter (Core §5.5.1) that makes ``acr`` at
    ``level`` or above *essential*, so the provider either reaches it
    (offering the upgrade on the way) or answers
    ``unmet_authentication_requirements``, instead of quietly returning a
    lower level as it may for ``acr_values``. Other requested claims in
    ``claims_param`` are kept; an unreadable one is replaced.
    """
    try:
        claims = json.loads(claims_param) if claims_param else {}
    except ValueError:
        claims = {}
    if not isinstance(claims, dict) or not isinstance(claims.get("id_token", {}), dict):
        claims = {}
    id_token = dict(claims.get("id_token") or {})
    id_token["acr"] = {"essential": True, "values": [lvl.acr for lvl in TrustLevel if lvl >= level]}
    return json.dumps({**claims, "id_token": id_token}, separators=(",", ":"))
