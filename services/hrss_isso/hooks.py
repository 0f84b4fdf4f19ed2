"""How hrss_isso plugs its units and federated sessions into the provider."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.hrss_isso.units import get_unit
from shared.oauth.provider.models import Principal

__all__ = ["IssoHooks", "LOGIN_KEYS"]

LOGIN_KEYS = ("unit_id", "auth_time", "amr", "acr", "sid", "idp", "upstream", "act")


class IssoHooks:
    def __init__(self, *, issuer: str, upgrade_url: str) -> None:
        self.issuer = issuer
        self._upgrade_url = upgrade_url

    def session_principal(self, db: Session, session: dict[str, Any]) -> Principal | None:
        unit_id = session.get("unit_id")
        if not unit_id:
            return None
        context = {k: session[k] for k in ("sid", "idp", "upstream", "act") if session.get(k)}
        claims = self.profile_claims(db, subject=unit_id, context=context)
        if claims is None:
            return None
        return Principal(
            sub=unit_id,
            claims=claims,
            # The level reached upstream, passed through and never raised.
            acr=session.get("acr"),
            amr=list(session.get("amr") or []),
            auth_time=int(session.get("auth_time") or 0),
            context=context,
        )

    def profile_claims(self, db: Session, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        unit = get_unit(db, unit_id=subject)
        if unit is None or unit.status != "active":
            return None
        return {"org_name": unit.org_name, "uscc": unit.uscc, "unit_code": unit.unit_code, "idp": context.get("idp", "hrss")}

    def login_url(self, interaction_id: str) -> str:
        return f"{self.issuer}/login?interaction={interaction_id}"

    def upgrade_url(self, principal: Principal, required_acr: str) -> str | None:
        return self._upgrade_url if principal.context.get("idp") == "gdzwfw" else None

    def end_session(self, db: Session, session: dict[str, Any]) -> None:
        for key in LOGIN_KEYS:
            session.pop(key, None)
