"""What Authlib's grants and endpoints (:mod:`.grants`) need from the
provider bound to a request, as a protocol: :mod:`.grants` depends on this,
:mod:`.provider` implements it (``BoundProvider``), and neither imports the
other's module."""

from __future__ import annotations

from typing import Any, Protocol

from shared.oauth.provider.models import Principal, Token

__all__ = ["Binding"]


class Binding(Protocol):
    config: Any  # ProviderConfig: issuer, clock, tokens, ttls, scoped claims
    provider: Any  # Provider: client keys, DPoP proofs and nonces
    store: Any  # ProviderStore, or the hot paths' PrefetchedStore

    def principal_for(
        self, *, subject: str | None, acr: str | None, amr: list[str], auth_time: int | None, context: dict[str, Any]
    ) -> Principal | None: ...

    def subject_claims(self, principal: Principal, scope: str | None) -> dict[str, Any]: ...

    def find_any_token(self, token_string: str, hint: str | None) -> Token | None: ...

    def signing_key(self) -> Any: ...

    def jwks(self) -> dict: ...

    def end_browser_session(self, session: dict[str, Any]) -> None: ...
