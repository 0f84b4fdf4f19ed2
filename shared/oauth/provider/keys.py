"""Signing keys kept in the database, rotated by a command, published as JWKS.

Private keys are encrypted at rest with a key derived from the service's
``secret_key`` (Fernet). A rotated key stops signing at once but stays in the
JWKS for ``publish_grace`` seconds, long enough for every ID token it signed
to expire. Parsed keys are cached per process for a few seconds so token
issuance does not decrypt and parse a PEM on every request.

A key that the current ``secret_key`` cannot decrypt (the secret was
rotated) never signs: at start-up it is retired — its public half stays
published for the grace period, so ID tokens it signed still verify — and a
new key is created, instead of every token request failing.

One RSA key signs under two algorithms: RS256 (plain clients; OIDC
Discovery requires it) and PS256 (FAPI 2.0 §5.4.1, fapi2 clients). Its JWK
is therefore published without ``alg`` (RFC 7517 §4.4 makes it optional): a
JWK saying ``"alg": "RS256"`` contradicts every PS256 signature under its
``kid``, and verifiers that honour it (joserfc among them) refuse those
tokens. Publishing the same key twice under two kids, each with an ``alg``,
would claim a separation of keys that is not there; one RSA key signing
PKCS#1 v1.5 and PSS is accepted practice (a TLS server offering 1.2 and 1.3
signs with its rsaEncryption key under both, RFC 8446 §4.2.3). Rows written
before carry ``"alg": "RS256"`` in their stored JWK; it is left out when
published. The ``alg`` column still says RS256: the algorithm the key was
made for, not the only one it signs with.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import threading
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from shared.clock import Clock
from shared.oauth.provider.tables import ProviderTables

__all__ = ["KeyManager", "SigningKey"]

log = logging.getLogger("oauth.keys")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    key: RSAKey


class KeyManager:
    def __init__(self, *, tables: ProviderTables, clock: Clock, secret_key: str, publish_grace: int, cache_seconds: int = 10) -> None:
        self.t = tables.signing_key
        self.clock = clock
        self.publish_grace = publish_grace
        self.cache_seconds = cache_seconds
        derived = hashlib.sha256(b"gd-login-chain signing-key encryption\x00" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self._lock = threading.Lock()
        self._parsed: dict[str, RSAKey] = {}
        self._cached_at: dt.datetime | None = None
        self._current: SigningKey | None = None
        self._jwks: dict | None = None

    # -- writing -------------------------------------------------------------
    def create_key(self, session: Session) -> str:
        key = RSAKey.generate_key(2048, parameters={"use": "sig"}, auto_kid=True)
        pem = key.as_pem(private=True)
        session.execute(
            insert(self.t).values(
                kid=key.kid,
                alg="RS256",
                private_key_encrypted=self._fernet.encrypt(pem).decode(),
                public_jwk=key.as_dict(private=False),
                created_at=self.clock.now(),
            )
        )
        return key.kid

    def rotate(self, session: Session) -> str:
        """Retire the signing key(s) and start signing with a new one.

        The caller commits, then calls :meth:`invalidate` (a request between
        the two would otherwise cache the old view); other processes see the
        new key within ``cache_seconds``."""
        now = self.clock.now()
        session.execute(update(self.t).where(self.t.c.retired_at.is_(None)).values(retired_at=now))
        return self.create_key(session)

    def ensure_key(self, session: Session) -> None:
        """At start-up: an active key this process can sign with, retiring
        active keys it cannot decrypt."""
        active = session.execute(select(self.t.c.kid, self.t.c.private_key_encrypted).where(self.t.c.retired_at.is_(None))).all()
        unreadable = [row.kid for row in active if not self._readable(row.private_key_encrypted)]
        if unreadable:
            log.warning("signing keys unreadable under the current secret_key retired", extra={"fields": {"kids": unreadable}})
            session.execute(update(self.t).where(self.t.c.kid.in_(unreadable)).values(retired_at=self.clock.now()))
        if len(unreadable) == len(active):
            self.create_key(session)

    def _readable(self, encrypted: str) -> bool:
        try:
            self._fernet.decrypt(encrypted.encode())
        except InvalidToken:
            return False
        return True

    def invalidate(self) -> None:
        with self._lock:
            self._cached_at = None

    # -- reading -------------------------------------------------------------
    def _refresh(self, session: Session) -> None:
        now = self.clock.now()
        with self._lock:
            if self._cached_at and (now - self._cached_at).total_seconds() < self.cache_seconds:
                return
        cutoff = now - dt.timedelta(seconds=self.publish_grace)
        rows = (
            session.execute(
                select(self.t).where(or_(self.t.c.retired_at.is_(None), self.t.c.retired_at > cutoff)).order_by(self.t.c.created_at.desc())
            )
            .mappings()
            .all()
        )
        current = None
        published = []
        for row in rows:
            published.append({name: value for name, value in row["public_jwk"].items() if name != "alg"})
            if row["retired_at"] is None and current is None:
                key = self._parsed.get(row["kid"])
                if key is None:
                    try:
                        pem = self._fernet.decrypt(row["private_key_encrypted"].encode())
                    except InvalidToken:
                        continue  # another process's secret_key: an older readable key signs meanwhile
                    key = RSAKey.import_key(pem, parameters={"kid": row["kid"], "use": "sig"})
                    self._parsed[row["kid"]] = key
                current = SigningKey(kid=row["kid"], alg=row["alg"], key=key)
        with self._lock:
            self._current = current
            self._jwks = {"keys": published}
            self._cached_at = now

    def cached_current(self) -> SigningKey | None:
        """The current key if the cache is still fresh, else None (for the hot
        paths, which have no session to read it with)."""
        now = self.clock.now()
        with self._lock:
            if self._cached_at and (now - self._cached_at).total_seconds() < self.cache_seconds:
                return self._current
        return None

    def current(self, session: Session) -> SigningKey:
        self._refresh(session)
        if self._current is None:
            raise RuntimeError("no active signing key: run the key rotation command")
        return self._current

    def jwks(self, session: Session) -> dict:
        self._refresh(session)
        return self._jwks or {"keys": []}

    def public_key_set(self, session: Session) -> KeySet:
        return KeySet.import_key_set(self.jwks(session))
