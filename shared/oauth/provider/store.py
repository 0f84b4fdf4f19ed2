"""Every provider query, on one synchronous session (hydra's "manager")."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import ARRAY, JSON, Insert, Select, String, Text, any_, bindparam, cast, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.clock import Clock, as_utc
from shared.metrics import TOKENS_ISSUED, count_on_commit, labelled
from shared.oauth.provider.models import AuthorizationCode, Client, Principal, Token
from shared.oauth.provider.tables import ProviderTables
from shared.randomness import hash_secret
from shared.settings import ClientConfig, ClientRegistration

__all__ = [
    "ProviderStore",
    "ClientCache",
    "statements",
    "token_values",
    "code_values",
    "code_from_row",
    "client_from_row",
    "token_from_row",
    "TOKEN_INSERT_COLUMNS",
    "CODE_INSERT_COLUMNS",
]


# The columns a code and a token are read with, named as the fields of the
# dataclass each row becomes (see _row_fields).
CODE_COLUMNS = (
    "id",
    "client_id",
    "subject",
    "redirect_uri",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "auth_time",
    "acr",
    "amr",
    "sid",
    "context",
    "expires_at",
    "used_at",
)
TOKEN_COLUMNS = (
    "id",
    "client_id",
    "subject",
    "scope",
    "family_id",
    "authorization_code_id",
    "auth_time",
    "acr",
    "amr",
    "sid",
    "context",
    "issued_at",
    "expires_at",
    "refresh_expires_at",
    "refresh_used_at",
    "revoked_at",
    "dpop_jkt",
)


def _row_fields(columns: tuple[str, ...], row: Any) -> dict[str, Any]:
    """A code's or token's row (read with ``columns``) as its dataclass holds
    it: ``amr`` a list, ``context`` a dict, every ``*_at`` time in UTC (SQLite
    hands them back naive)."""
    fields = dict(zip(columns, row, strict=True))
    fields["amr"] = list(fields["amr"])
    fields["context"] = dict(fields["context"])
    for name in columns:
        if name.endswith("_at"):
            fields[name] = as_utc(fields[name])
    return fields


class _Statements:
    """The statements of the per-request paths, built once per set of tables.

    Building ``select(...).where(...)`` on every call, and deriving its cache
    key so that SQLAlchemy can find the compiled form, was the largest share
    of a token request's CPU in profiles. A statement object built once with
    ``bindparam()`` memoises its cache key, so executing it again with new
    parameters goes straight to the compiled-statement cache. Values arrive
    through the parameters, never through the SQL text.
    """

    def __init__(self, tables: ProviderTables) -> None:
        client, code, token = tables.client.c, tables.authorization_code.c, tables.token.c
        # Column order is the order of the dataclass each row becomes.
        self.client_by_id = select(
            client.client_id,
            client.client_secret_hash,
            client.client_name,
            client.redirect_uris,
            client.post_logout_redirect_uris,
            client.backchannel_logout_uri,
            client.grant_types,
            client.scope,
            client.token_endpoint_auth_method,
            client.introspection_allowed,
            client.registration,
        ).where(client.client_id == bindparam("b_client_id"))
        # inline(): no RETURNING of the new id on PostgreSQL, which nothing reads.
        # The columns named: the same statement serves asyncpg (shared.db_async).
        code_binds = {name: bindparam(name, type_=code[name].type) for name in CODE_INSERT_COLUMNS}
        self.insert_code = insert(tables.authorization_code).inline().values(code_binds)
        self.code_by_hash = select(*(code[name] for name in CODE_COLUMNS)).where(
            code.code_hash == bindparam("b_hash"), code.client_id == bindparam("b_client_id")
        )
        self.nonce_seen = select(code.id).where(code.client_id == bindparam("b_client_id"), code.nonce == bindparam("b_nonce")).limit(1)
        self.claim_code = (
            update(tables.authorization_code).where(code.id == bindparam("b_id"), code.used_at.is_(None)).values(used_at=bindparam("b_now"))
        )
        self.insert_token = insert(tables.token).inline()
        token_columns = tuple(token[name] for name in TOKEN_COLUMNS)
        self.token_columns = token_columns
        self._token = token
        self._token_table = tables.token
        self._code_table = tables.authorization_code
        self.token_by_access = select(*token_columns).where(token.access_token_hash == bindparam("b_hash"))
        self.token_by_refresh = select(*token_columns).where(token.refresh_token_hash == bindparam("b_hash"))
        self.spend_refresh = (
            update(tables.token)
            .where(token.id == bindparam("b_id"), token.refresh_used_at.is_(None), token.revoked_at.is_(None))
            .values(refresh_used_at=bindparam("b_now"))
        )
        self.revoke_token = (
            update(tables.token).where(token.id == bindparam("b_id"), token.revoked_at.is_(None)).values(revoked_at=bindparam("b_now"))
        )

    def tokens_by_hashes(self, kind: str) -> Select:
        """PostgreSQL only (``= ANY`` of an array): the rows of several tokens,
        each led by its hash, for lookups batched on the asynchronous path."""
        column = self._token.access_token_hash if kind == "access" else self._token.refresh_token_hash
        return select(column, *self.token_columns).where(column == any_(bindparam("b_hashes", type_=ARRAY(String))))

    def insert_tokens(self) -> Insert:
        """PostgreSQL only (``unnest`` of arrays): several new token rows in one
        statement, a parameter per column (``b_<column>``, the column's values
        in row order). One statement for a batch instead of one per row took a
        quarter off PostgreSQL's CPU per token (bench: 51 → 37 µs a row)."""
        token = self._token_table
        # A JSON value that is a list would read as one more dimension of the
        # array: JSON columns come as arrays of their text, cast back here.
        json_columns = set(self.json_token_columns())
        rows = (
            func.unnest(
                *(
                    bindparam(f"b_{name}", type_=ARRAY(Text if name in json_columns else token.c[name].type))
                    for name in TOKEN_INSERT_COLUMNS
                )
            )
            .table_valued(*TOKEN_INSERT_COLUMNS)
            .render_derived(name="new_tokens")
        )
        values = [cast(rows.c[name], token.c[name].type) if name in json_columns else rows.c[name] for name in TOKEN_INSERT_COLUMNS]
        return insert(token).from_select(list(TOKEN_INSERT_COLUMNS), select(*values))

    def claim_code_inserting_tokens(self) -> Insert:
        """PostgreSQL only: :attr:`claim_code` (``b_id``, ``b_now``) and
        :meth:`insert_tokens` as one statement, the tokens written only if
        this claim marked the code used (``INSERT 0 0`` when another
        redemption got there first). One round trip and one commit for the
        code grant's whole write."""
        code = self._code_table.c
        claimed = (
            update(self._code_table)
            .where(code.id == bindparam("b_id"), code.used_at.is_(None))
            .values(used_at=bindparam("b_now"))
            .returning(code.id)
            .cte("claimed")
        )
        tokens = self.insert_tokens()
        guarded = tokens.select.where(select(claimed.c.id).exists())
        return insert(self._token_table).from_select(list(TOKEN_INSERT_COLUMNS), guarded).add_cte(claimed)

    def json_token_columns(self) -> list[str]:
        """The JSON columns among TOKEN_INSERT_COLUMNS, whose values
        :meth:`insert_tokens` takes as JSON text."""
        return [name for name in TOKEN_INSERT_COLUMNS if isinstance(self._token_table.c[name].type, JSON)]


# The columns a new token row is written with (see token_values): the hashes
# of its secrets and what is read back, but for the id and what changes later.
CODE_INSERT_COLUMNS = ("code_hash", *(name for name in CODE_COLUMNS if name not in {"id", "used_at"}), "created_at")
TOKEN_INSERT_COLUMNS = (
    "access_token_hash",
    "refresh_token_hash",
    *(name for name in TOKEN_COLUMNS if name not in {"id", "refresh_used_at", "revoked_at"}),
)


@functools.cache
def statements(tables: ProviderTables) -> _Statements:
    # One ProviderTables per service, defined at import: the cache stays tiny.
    return _Statements(tables)


class ClientCache:
    """Client rows of the last few seconds, in this process.

    Every token, introspection and revocation request looks its client up
    first. Client rows come from configuration: only ``Provider.prepare()``
    writes them, at start-up, and it empties this cache when it has
    committed. A row changed by another process (a restarted worker, another
    replica with new configuration) is seen here within ``ttl`` seconds --
    the same as if that process had started a moment later.

    An entry is the row as selected, secret hash included, never more than
    the table holds (secrets are hashed at rest, and the plain secret a
    client presents is not kept). Only rows that exist are kept: client ids
    come from requests, and remembering misses would let anyone fill the
    cache. Each lookup builds a fresh :class:`Client`, so nothing a request
    does to its client reaches the next one; only its registration, which
    nothing writes to, is shared (validated once per cached row). Time is the monotonic clock, not
    the provider's (which tests freeze): freshness is about real time.
    """

    def __init__(self, ttl: float = 5.0, *, max_entries: int = 1000, timer: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._timer = timer
        # client id -> [expiry, row, its registration once validated]
        self._rows: dict[str, list] = {}
        self._lock = threading.Lock()

    def get(self, client_id: str) -> tuple | None:
        entry = self._live(client_id)
        return None if entry is None else entry[1]

    def _live(self, client_id: str) -> list | None:
        entry = self._rows.get(client_id)
        return None if entry is None or entry[0] <= self._timer() else entry

    def put(self, client_id: str, row: tuple) -> None:
        with self._lock:
            if len(self._rows) >= self.max_entries:
                self._rows.clear()
            self._rows[client_id] = [self._timer() + self.ttl, row, None]

    def keep(self, client_id: str, row: tuple) -> Client:
        """``put``, and the client built from the cache (its registration
        validated there, once)."""
        self.put(client_id, row)
        return self.client(client_id) or client_from_row(row)

    def client(self, client_id: str) -> Client | None:
        """A fresh :class:`Client` from the cached row, or None. Its
        registration (pydantic-validated JSON, a sixth of a
        client-credentials grant's own CPU when validated per request) is
        validated once per cached row and shared: nothing writes to a
        client's registration."""
        entry = self._live(client_id)
        if entry is None:
            return None
        if entry[2] is None:
            entry[2] = ClientRegistration.model_validate(entry[1][-1] or {})
        return client_from_row(entry[1], registration=entry[2])

    def invalidate(self) -> None:
        with self._lock:
            self._rows.clear()


class ProviderStore:
    def __init__(self, session: Session, tables: ProviderTables, clock: Clock, *, clients: ClientCache | None = None) -> None:
        self.s = session
        self.t = tables
        self.clock = clock
        self.q = statements(tables)
        self.clients = clients

    # -- clients ---------------------------------------------------------
    def get_client(self, client_id: str) -> Client | None:
        if self.clients is not None and (client := self.clients.client(client_id)) is not None:
            return client
        row = self.s.execute(self.q.client_by_id, {"b_client_id": client_id}).first()
        if row is None:
            return None
        row = tuple(row)
        return client_from_row(row) if self.clients is None else self.clients.keep(client_id, row)

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
            "registration": config.registration().model_dump(mode="json"),
        }
        c = self.t.client.c
        done = self.s.execute(update(self.t.client).where(c.client_id == config.client_id).values(**values)).rowcount
        if not done:
            self.s.execute(insert(self.t.client).values(client_id=config.client_id, created_at=self.clock.now(), **values))

    # -- authorization codes ----------------------------------------------
    def save_code(self, **fields: Any) -> None:
        """A new authorization code's row; ``fields`` as :func:`code_values` takes them."""
        self.s.execute(self.q.insert_code, code_values(now=self.clock.now(), **fields))

    def find_code(self, *, code: str, client_id: str) -> AuthorizationCode | None:
        row = self.s.execute(self.q.code_by_hash, {"b_hash": hash_secret(code), "b_client_id": client_id}).first()
        return None if row is None else code_from_row(row)

    def nonce_seen(self, *, client_id: str, nonce: str) -> bool:
        return self.s.execute(self.q.nonce_seen, {"b_client_id": client_id, "b_nonce": nonce}).first() is not None

    def claim_code(self, *, code_id: int) -> bool:
        """Mark a code used; False if another redemption got there first.

        The conditional UPDATE is the single-use guarantee: on PostgreSQL a
        concurrent redemption waits for the row lock and then matches no row.
        """
        return bool(self.s.execute(self.q.claim_code, {"b_id": code_id, "b_now": self.clock.now()}).rowcount)

    # -- tokens -------------------------------------------------------------
    def save_token(self, **fields: Any) -> None:
        """A new token row; ``fields`` as :func:`token_values` takes them."""
        self.s.execute(self.q.insert_token, token_values(now=self.clock.now(), **fields))

    def count_issued(self, grant_type: str) -> None:
        """``oauth_tokens_issued_total``, once the token's transaction has committed."""
        count_on_commit(self.s, labelled(TOKENS_ISSUED, grant_type).inc)

    def _token_from_row(self, row: Any, kind: str) -> Token:
        return token_from_row(row, kind, now=self.clock.now())

    def find_token(self, *, access_token: str | None = None, refresh_token: str | None = None) -> Token | None:
        if access_token is not None:
            statement, secret, kind = self.q.token_by_access, access_token, "access"
        elif refresh_token is not None:
            statement, secret, kind = self.q.token_by_refresh, refresh_token, "refresh"
        else:
            return None
        row = self.s.execute(statement, {"b_hash": hash_secret(secret)}).first()
        return None if row is None else self._token_from_row(row, kind)

    def spend_refresh_token(self, *, token_id: int) -> bool:
        """Rotate: mark the refresh token used, once (conditional UPDATE)."""
        return bool(self.s.execute(self.q.spend_refresh, {"b_id": token_id, "b_now": self.clock.now()}).rowcount)

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
        self.s.execute(self.q.revoke_token, {"b_id": token_id, "b_now": self.clock.now()})

    def use_jti(self, *, client_id: str, jti: str, expires_at: dt.datetime) -> bool:
        """Record a client assertion's or DPoP proof's ``jti``; False when it
        was used before. Past ``expires_at`` it is refused anyway, so the row may go.

        Committed at once: the jti is spent whatever becomes of the request.
        Left in the request's transaction it was rolled back with a refused
        request (a bad code at /token, a bad push at /par), and the same
        assertion or proof then worked again. It is the first write of every
        request that checks one, so the commit carries nothing else."""
        try:
            with self.s.begin_nested():
                self.s.execute(insert(self.t.used_jti).values(jti_hash=hash_secret(f"{client_id}\n{jti}"), expires_at=expires_at))
        except IntegrityError:
            return False
        self.s.commit()
        return True

    def purge_expired(self, *, before: dt.datetime) -> int:
        """Delete codes and tokens that stopped working before ``before``.

        Kept a while after expiry so replays are still recognised as such."""
        code, tok = self.t.authorization_code, self.t.token
        n = self.s.execute(delete(self.t.used_jti).where(self.t.used_jti.c.expires_at < self.clock.now())).rowcount
        n += self.s.execute(delete(code).where(code.c.expires_at < before)).rowcount
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
        return self.s.execute(update(t).where(t.c.sid == sid, t.c.revoked_at.is_(None)).values(revoked_at=self.clock.now())).rowcount

    def expire_session_codes(self, *, sid: str) -> int:
        """Codes issued under this login and not yet exchanged stop working
        (they would otherwise still buy tokens after the login ended)."""
        t, now = self.t.authorization_code, self.clock.now()
        return self.s.execute(update(t).where(t.c.sid == sid, t.c.used_at.is_(None), t.c.expires_at > now).values(expires_at=now)).rowcount

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


def code_values(
    *,
    now: dt.datetime,
    code: str,
    client_id: str,
    principal: Principal,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str,
    code_challenge_method: str,
    ttl: int,
) -> dict[str, Any]:
    """The row of a new authorization code (CODE_INSERT_COLUMNS); only the code's hash."""
    return {
        "code_hash": hash_secret(code),
        "client_id": client_id,
        "subject": principal.sub,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": code_challenge_method,
        "auth_time": principal.auth_time,
        "acr": principal.acr,
        "amr": list(principal.amr),
        "sid": principal.context.get("sid"),
        "context": principal.context,
        "created_at": now,
        "expires_at": now + dt.timedelta(seconds=ttl),
    }


def code_from_row(row: Any) -> AuthorizationCode:
    """A code's row, read with CODE_COLUMNS (``code_by_hash``)."""
    return AuthorizationCode(**_row_fields(CODE_COLUMNS, row))


def token_values(
    *,
    now: dt.datetime,
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
    dpop_jkt: str | None = None,
) -> dict[str, Any]:
    """The row of a new token (TOKEN_INSERT_COLUMNS); only hashes of its secrets."""
    return {
        "access_token_hash": hash_secret(access_token),
        "refresh_token_hash": hash_secret(refresh_token) if refresh_token else None,
        "client_id": client_id,
        "subject": subject,
        "scope": scope,
        # 128 random bits in the 32 hex digits of a uuid4's hex (which
        # costs three times as much, for 6 fixed bits nobody reads).
        "family_id": family_id or secrets.token_hex(16),
        "authorization_code_id": authorization_code_id,
        "auth_time": auth_time,
        "acr": acr,
        "amr": list(amr),
        "sid": sid,
        "context": context,
        "issued_at": now,
        "expires_at": now + dt.timedelta(seconds=expires_in),
        "refresh_expires_at": (refresh_expires_at or now + dt.timedelta(seconds=refresh_ttl)) if refresh_token else None,
        "dpop_jkt": dpop_jkt,
    }


def token_from_row(row: Any, kind: str, *, now: dt.datetime) -> Token:
    return Token(**_row_fields(TOKEN_COLUMNS, row), now=now, kind=kind)


def client_from_row(row: Any, *, registration: ClientRegistration | None = None) -> Client:
    """``registration``: the row's registration, already validated (ClientCache)."""
    (
        client_id,
        secret_hash,
        name,
        redirect_uris,
        post_logout_uris,
        backchannel_uri,
        grant_types,
        scope,
        auth_method,
        introspection_allowed,
        _,
    ) = row
    return Client(
        client_id=client_id,
        client_secret_hash=secret_hash,
        client_name=name,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(post_logout_uris),
        backchannel_logout_uri=backchannel_uri,
        grant_types=list(grant_types),
        scope=scope,
        token_endpoint_auth_method=auth_method,
        introspection_allowed=bool(introspection_allowed),
        registration=registration if registration is not None else ClientRegistration.model_validate(row[-1] or {}),
    )
