"""The objects Authlib's grants and endpoints work on.

Plain dataclasses built from rows by :mod:`.store`; they implement Authlib's
``ClientMixin``, ``AuthorizationCodeMixin`` (OIDC) and ``TokenMixin``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin

from shared.randomness import hash_secret
from shared.settings import ClientRegistration
from shared.trust import TrustLevel

__all__ = ["Client", "AuthorizationCode", "Token", "Principal"]


@dataclass
class Principal:
    """Who an authorization is for, as the provider's protocol layer sees it.

    ``claims`` are the subject's profile claims (account_type, org_name …);
    ``acr``/``amr``/``auth_time`` describe the authentication event, and
    ``context`` carries what must travel with the grant (``act``, upstream
    ``iss``/``acr``/``auth_time`` at the ISSO, the session id).
    """

    sub: str
    claims: dict[str, Any]
    acr: str | None
    amr: list[str]
    auth_time: int
    context: dict[str, Any] = field(default_factory=dict)
    # When this provider's own session began. Equal to auth_time for a direct
    # login; later for a federated one, whose auth_time is the upstream
    # authentication (possibly an earlier single sign-on).
    logged_in_at: int | None = None

    @property
    def session_started(self) -> int:
        return self.logged_in_at if self.logged_in_at is not None else self.auth_time

    @property
    def trust_level(self) -> TrustLevel | None:
        return TrustLevel.from_acr(self.acr)


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret_hash: str | None
    client_name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    grant_types: list[str]
    scope: str
    token_endpoint_auth_method: str
    introspection_allowed: bool
    # Metadata beyond the columns (PAR, keys, DPoP, profile): shared.settings.ClientRegistration.
    registration: ClientRegistration = field(default_factory=ClientRegistration)

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Redirect URIs are always required in the request (OAuth 2.1).
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, no normalisation and no wildcards (RFC 9700 §4.1.3).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.client_secret_hash:
            return False
        return hmac.compare_digest(hash_secret(client_secret), self.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint in ("introspection", "revocation") and self.registration.introspection_endpoint_auth_method:
            return method == self.registration.introspection_endpoint_auth_method
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    id: int
    client_id: str
    subject: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    auth_time: int
    acr: str | None
    amr: list[str]
    sid: str | None
    context: dict[str, Any]
    expires_at: dt.datetime
    used_at: dt.datetime | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return self.amr


@dataclass
class Token(TokenMixin):
    id: int
    client_id: str
    subject: str | None
    scope: str
    family_id: str
    authorization_code_id: int | None
    auth_time: int | None
    acr: str | None
    amr: list[str]
    sid: str | None
    context: dict[str, Any]
    issued_at: dt.datetime
    expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None
    refresh_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    now: dt.datetime
    kind: str = "access"  # which of the row's two secrets was presented
    dpop_jkt: str | None = None  # bound to this key (RFC 9449 cnf.jkt)
    client: Client | None = None
    user: Principal | None = None

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        if self.kind == "refresh":
            return not self.is_refresh_usable()
        return self.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_refresh_usable(self) -> bool:
        return (
            self.revoked_at is None
            and self.refresh_used_at is None
            and self.refresh_expires_at is not None
            and self.refresh_expires_at > self.now
        )

    def get_user(self) -> Principal | None:
        return self.user

    def get_client(self) -> Client | None:
        return self.client
