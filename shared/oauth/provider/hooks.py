"""What a service plugs into the shared provider."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from shared.db_async import AsyncReads
from shared.oauth.provider.models import Principal

__all__ = ["ProviderHooks"]


class ProviderHooks(Protocol):
    # Whether ``asession_principal`` / ``aprofile_claims`` can answer on the
    # event loop at all. False: they would only raise NotPrefetched, so the
    # hot paths send a login's requests (a code's redemption) to the general
    # path before reading anything for them, instead of reading twice.
    logins_on_loop: bool
    claims_on_loop: bool

    def session_principal(self, db: Session, session: dict[str, Any]) -> Principal | None:
        """The principal logged in with this browser session, or None."""

    async def asession_principal(self, reads: AsyncReads, session: dict[str, Any]) -> Principal | None:
        """``session_principal`` on the event loop, through ``reads``, for the
        authorization endpoint's hot path (called only when ``holds_login``).
        Raises :class:`~.errors.NotPrefetched` for a login it cannot judge
        there: the request then takes the general path, which asks
        ``session_principal``. Both must decide alike."""

    def holds_login(self, session: dict[str, Any]) -> bool:
        """Whether this browser session names a login at all, read from the
        session alone (no query): False lets a first authorization request go
        straight to the login page without a database session
        (:meth:`~.hot_paths.HotPaths.authorize`). True says only "maybe":
        ``session_principal`` decides."""

    def profile_claims(self, db: Session, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        """Claims about ``subject`` (DESIGN.md § Claims); None if it no longer
        exists or may no longer log in, which ends token issuance for it."""

    async def aprofile_claims(self, reads: AsyncReads, *, subject: str, context: dict[str, Any]) -> dict[str, Any] | None:
        """``profile_claims`` on the event loop, through ``reads``, for the
        code grant's hot path; raises :class:`~.errors.NotPrefetched` where it
        cannot answer there. Both must answer alike."""

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

    async def continue_logout(self, session: dict[str, Any], ended: dict[str, Any], destination: str | None) -> str | None:
        """Where RP-initiated logout goes once this provider's session ended.

        ``session`` is the browser session now (the login gone, see
        ``end_session``), ``ended`` a copy of it from before the logout (what
        the login held), ``destination`` where the provider would send the
        browser: the client's checked ``post_logout_redirect_uri`` with its
        ``state``, or None for the logged-out page. A provider that federates
        returns a URL to end the upstream login too, and sends the browser on
        to ``destination`` when it comes back; None finishes here. Async:
        continuing may first ask the upstream provider for its metadata."""
