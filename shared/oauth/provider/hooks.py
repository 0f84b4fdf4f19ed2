"""What a service plugs into the shared provider."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from shared.oauth.provider.models import Principal

__all__ = ["ProviderHooks"]


class ProviderHooks(Protocol):
    def session_principal(self, db: Session, session: dict[str, Any]) -> Principal | None:
        """The principal logged in with this browser session, or None."""

    def profile_claims(self, db: Session, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        """Claims about ``subject`` (DESIGN.md § Claims); None if it no longer
        exists or may no longer log in, which ends token issuance for it."""

    def login_url(self, interaction_id: str) -> str:
        """The login UI that handles this interaction (STYLE habit 3)."""

    def upgrade_url(self, principal: Principal, required_acr: str, interaction_id: str) -> str | None:
        """Where the user can raise the trust level, if anywhere; the page
        there offers to continue the parked request once the level is met."""

    def step_up_url(self, principal: Principal, interaction_id: str) -> str | None:
        """Where a login below a required level goes straight away, without
        the "level too low" page, when the level is raised elsewhere: a
        federating provider sends the parked request upstream with its level
        requirement, and the upstream provider offers the upgrade. None for a
        provider that holds the level itself."""

    def end_session(self, db: Session, session: dict[str, Any]) -> None:
        """Forget the login held by this browser session."""
