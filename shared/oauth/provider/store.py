"""Every provider query, on one synchronous session (hydra's "manager")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from shared.clock import Clock, as_utc
from shared.oauth.provider.models import AuthorizationCode, Client, Principal, Token
from shared.oauth.provider.tables import ProviderTables
from shared.randomness import hash_secret
from shared.settings import ClientConfig

__all__ = ["ProviderStore"]




class ProviderStore:
    def __init__(self, session: Session, tables: ProviderTables, clock: Clock) -> None:
        self.s = session
        self.t = tables
        self.clock = clock

    # -- clients ---------------------------------------------------------
    def get_client(self, client_id: str) -> Client | None:
        c = self.t.client.c
        row = self.s.execute(select(self.t.client).where(c.client_id == client_id)).mappings().first()
        if row is None:
            return None
        return Client(
            client_id=row["client_id"],
            client_secret_hash=row["client_secret_hash"],
            client_name=row["client_name"],
            redirect_uris=list(row["redirect_uris"]),
            post_logout_redirect_uris=list(row["post_logout_redirect_uris"]),
            backchannel_logout_uri=row["backchannel_logout_uri"],
            grant_types=list(row["grant_types"]),
            scope=row["scope"],
            token_endpoint_auth_method=row["token_endpoint_auth_method"],
            introspection_allowed=bool(row["introspection_allowed"]),
        )

    def upsert_client(self, *, config: ClientConfig) -> None:
        values: dict[str, Any] = {
            "client_secret_hash": hash_secret(config.client_secret.get_secret_value()) if config.client_secret else None,
            "client_name": config.client_name or config.client_id,
            "redirect_uris": list(config.redirect_uris),
            "post_logout_redirect_uris": list(config.post_logout_redirect_uris),
            "backchannel_logout_uri": config.backchannel_logout_uri,
            "grant_types": list(config.grant_types),
            "scope": config.scope,
            "token_endpoint_auth_method": config.token_endpoint_auth_method,
            "introspection_allowed": config.introspection_allowed,
        }
        c = self.t.client.c
        done = self.s.execute(update(self.t.client).where(c.client_id == config.client_id).values(**values)).rowcount
        if not done:
            self.s.execute(insert(self.t.client).values(client_id=config.client_id, created_at=self.clock.now(), **values))

    # -- authorization codes ----------------------------------------------
    def save_code(
        self,
        *,
        code: str,
        client_id: str,
        principal: Principal,
        redirect_uri: str,
        scope: str,
        nonce: str | None,
        code_challenge: str,
        code_challenge_method: str,
        ttl: int,
    ) -> None:
        now = self.clock.now()
        self.s.execute(
            insert(self.t.authorization_code).values(
                code_hash=hash_secret(code),
                client_id=client_id,
                subject=principal.sub,
                redirect_uri=redirect_uri,
                scope=scope,
                nonce=nonce,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                auth_time=principal.auth_time,
                acr=principal.acr,
                amr=list(principal.amr),
                sid=principal.context.get("sid"),
                context=principal.context,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=ttl),
            )
        )

    def find_code(self, *, code: str, client_id: str) -> AuthorizationCode | None:
        t = self.t.authorization_code
        row = (
            self.s.execute(select(t).where(t.c.code_hash == hash_secret(code), t.c.client_id == client_id))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return AuthorizationCode(
            id=row["id"],
            client_id=row["client_id"],
            subject=row["subject"],
            redirect_uri=row["redirect_uri"],
            scope=row["scope"],
            nonce=row["nonce"],
            code_challenge=row["code_challenge"],
            code_challenge_method=row["code_challenge_method"],
            auth_time=row["auth_time"],
            acr=row["acr"],
            amr=list(row["amr"]),
            sid=row["sid"],
            context=dict(row["context"]),
            expires_at=as_utc(row["expires_at"]),
            used_at=as_utc(row["used_at"]),
        )

    def nonce_seen(self, *, client_id: str, nonce: str) -> bool:
        t = self.t.authorization_code
        return self.s.execute(select(t.c.id).where(t.c.client_id == client_id, t.c.nonce == nonce).limit(1)).first() is not None

    def claim_code(self, *, code_id: int) -> bool:
        """Mark a code used; False if another redemption got there first.

        The conditional UPDATE is the single-use guarantee: on PostgreSQL a
        concurrent redemption waits for the row lock and then matches no row.
        """
        t = self.t.authorization_code
        return bool(
            self.s.execute(
                update(t).where(t.c.id == code_id, t.c.used_at.is_(None)).values(used_at=self.clock.now())
            ).rowcount
        )

    # -- tokens -------------------------------------------------------------
    def save_token(
        self,
        *,
        access_token: str,
        refresh_token: str | None,
        client_id: str,
        subject: str | None,
        scope: str,
        expires_in: int,
        refresh_ttl: int,
        refresh_expires_at: dt.datetime | None = None,
        family_id: str | None,
        authorization_code_id: int | None,
        auth_time: int | None,
        acr: str | None,
        amr: list[str],
        sid: str | None,
        context: dict[str, Any],
    ) -> None:
        now = self.clock.now()
        self.s.execute(
            insert(self.t.token).values(
                access_token_hash=hash_secret(access_token),
                refresh_token_hash=hash_secret(refresh_token) if refresh_token else None,
                client_id=client_id,
                subject=subject,
                scope=scope,
                family_id=family_id or uuid.uuid4().hex,
                authorization_code_id=authorization_code_id,
                auth_time=auth_time,
                acr=acr,
                amr=list(amr),
                sid=sid,
                context=context,
                issued_at=now,
                expires_at=now + dt.timedelta(seconds=expires_in),
                refresh_expires_at=(refresh_expires_at or now + dt.timedelta(seconds=refresh_ttl)) if refresh_token else None,
            )
        )

    def _token_from_row(self, row: Any, kind: str) -> Token:
        return Token(
            id=row["id"],
            client_id=row["client_id"],
            subject=row["subject"],
            scope=row["scope"],
            family_id=row["family_id"],
            authorization_code_id=row["authorization_code_id"],
            auth_time=row["auth_time"],
            acr=row["acr"],
            amr=list(row["amr"]),
            sid=row["sid"],
            context=dict(row["context"]),
            issued_at=as_utc(row["issued_at"]),
            expires_at=as_utc(row["expires_at"]),
            refresh_expires_at=as_utc(row["refresh_expires_at"]),
            refresh_used_at=as_utc(row["refresh_used_at"]),
            revoked_at=as_utc(row["revoked_at"]),
            now=self.clock.now(),
            kind=kind,
        )

    def find_token(self, *, access_token: str | None = None, refresh_token: str | None = None) -> Token | None:
        t = self.t.token
        if access_token is not None:
            cond, kind = t.c.access_token_hash == hash_secret(access_token), "access"
        elif refresh_token is not None:
            cond, kind = t.c.refresh_token_hash == hash_secret(refresh_token), "refresh"
        else:
            return None
        row = self.s.execute(select(t).where(cond)).mappings().first()
        return None if row is None else self._token_from_row(row, kind)

    def spend_refresh_token(self, *, token_id: int) -> bool:
        """Rotate: mark the refresh token used, once (conditional UPDATE)."""
        t = self.t.token
        return bool(
            self.s.execute(
                update(t)
                .where(t.c.id == token_id, t.c.refresh_used_at.is_(None), t.c.revoked_at.is_(None))
                .values(refresh_used_at=self.clock.now())
            ).rowcount
        )

    def revoke_family(self, *, family_id: str) -> int:
        t = self.t.token
        return self.s.execute(
            update(t).where(t.c.family_id == family_id, t.c.revoked_at.is_(None)).values(revoked_at=self.clock.now())
        ).rowcount

    def revoke_code_tokens(self, *, code_id: int) -> int:
        t = self.t.token
        families = select(t.c.family_id).where(t.c.authorization_code_id == code_id).scalar_subquery()
        return self.s.execute(
            update(t).where(t.c.family_id.in_(families), t.c.revoked_at.is_(None)).values(revoked_at=self.clock.now())
        ).rowcount

    def revoke_token(self, *, token_id: int) -> None:
        t = self.t.token
        self.s.execute(update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=self.clock.now()))

    def purge_expired(self, *, before: dt.datetime) -> int:
        """Delete codes and tokens that stopped working before ``before``.

        Kept a while after expiry so replays are still recognised as such."""
        code, tok = self.t.authorization_code, self.t.token
        n = self.s.execute(delete(code).where(code.c.expires_at < before)).rowcount
        n += self.s.execute(
            delete(tok).where(tok.c.expires_at < before, or_(tok.c.refresh_expires_at.is_(None), tok.c.refresh_expires_at < before))
        ).rowcount
        return n

    def clients_of_session(self, *, sid: str) -> list[tuple[str, str | None]]:
        """(client_id, subject) pairs that hold tokens from this login."""
        t = self.t.token
        rows = self.s.execute(select(t.c.client_id, t.c.subject).where(t.c.sid == sid).distinct()).all()
        return [(r.client_id, r.subject) for r in rows]

    def revoke_session_tokens(self, *, sid: str) -> int:
        t = self.t.token
        return self.s.execute(
            update(t).where(t.c.sid == sid, t.c.revoked_at.is_(None)).values(revoked_at=self.clock.now())
        ).rowcount

    def expire_session_codes(self, *, sid: str) -> int:
        """Codes issued under this login and not yet exchanged stop working
        (they would otherwise still buy tokens after the login ended)."""
        t, now = self.t.authorization_code, self.clock.now()
        return self.s.execute(
            update(t).where(t.c.sid == sid, t.c.used_at.is_(None), t.c.expires_at > now).values(expires_at=now)
        ).rowcount

    def live_grants(self, *, subjects: Collection[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """(sid, subject, context) of what was issued to ``subjects`` under a
        login and may still be used: tokens not revoked whose access or
        refresh token is still valid, and codes not yet exchanged."""
        if not subjects:
            return []
        now = self.clock.now()
        tok, code = self.t.token, self.t.authorization_code
        refreshable = (tok.c.refresh_expires_at > now) & tok.c.refresh_used_at.is_(None)
        tokens = select(tok.c.sid, tok.c.subject, tok.c.context).where(
            tok.c.subject.in_(subjects), tok.c.sid.is_not(None), tok.c.revoked_at.is_(None), or_(tok.c.expires_at > now, refreshable)
        )
        codes = select(code.c.sid, code.c.subject, code.c.context).where(
            code.c.subject.in_(subjects), code.c.sid.is_not(None), code.c.used_at.is_(None), code.c.expires_at > now
        )
        rows = [*self.s.execute(tokens).all(), *self.s.execute(codes).all()]
        return [(r.sid, r.subject, dict(r.context or {})) for r in rows]
