"""Server-side sessions behind a per-service cookie (``gdzwfw_sid`` …).

A pure ASGI middleware that puts a dict in ``scope["session"]`` so
``request.session`` works as with Starlette's cookie sessions (and so
Authlib's Starlette client can keep its state there), but the data lives in
the :class:`~shared.kvstore.KeyValueStore`, never in the cookie and never
only in this process. The cookie carries a random id; the store key is its
hash, so a database leak reveals no live session id.
"""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.clock import Clock
from shared.kvstore import KeyValueStore
from shared.randomness import TokenSource, hash_secret

__all__ = ["ServerSessionMiddleware", "rotate_session", "session_store_key", "SessionDict"]

_SAVED_AT = "_saved_at"


class SessionDict(dict):
    """A dict that remembers whether it was changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def clear(self) -> None:
        self.modified = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)


def session_store_key(sid: str) -> str:
    """Where the session whose cookie carries ``sid`` lives in the store."""
    return f"session:{hash_secret(sid)}"


def rotate_session(conn: HTTPConnection) -> None:
    """Give the session a new id at the end of this request (on login),
    so an id planted before login is worthless afterwards."""
    conn.scope["session_rotate"] = True
    conn.session.modified = True


class ServerSessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: KeyValueStore,
        tokens: TokenSource,
        clock: Clock,
        cookie_name: str,
        idle_seconds: int,
        secure: bool,
        path: str = "/",
        skip_prefixes: tuple[str, ...] = ("/static/",),
    ) -> None:
        self.app = app
        self.store = store
        self.tokens = tokens
        self.clock = clock
        self.cookie_name = cookie_name
        self.idle_seconds = idle_seconds
        self.secure = secure
        self.path = path
        self.skip_prefixes = skip_prefixes

    def _key(self, sid: str) -> str:
        return session_store_key(sid)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Static files neither read nor slide a session (health probes are on the fast lane).
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        sid = self._read_cookie(scope)
        data = None
        if sid:
            data = await self.store.aget(self._key(sid))
        session = SessionDict(data or {})
        scope["session"] = session
        had_session = data is not None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                await self._persist(scope, sid if had_session else None, session, headers)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _persist(self, scope: Scope, sid: str | None, session: SessionDict, headers: MutableHeaders) -> None:
        rotate = scope.get("session_rotate", False)
        if not session:
            if sid:
                await self.store.adelete(self._key(sid))  # logout: it must not come back
                headers.append("Set-Cookie", self._cookie("", max_age=0))
            return
        retired = sid if sid and rotate else None
        if sid is None or retired:
            sid = self.tokens.token(32)
            session.modified = True
        # The idle timeout slides: an unchanged session is saved again only
        # once a quarter of it has passed, not on every request.
        now = self.clock.timestamp()
        if session.modified or now - int(session.get(_SAVED_AT, 0)) >= self.idle_seconds // 4:
            dict.__setitem__(session, _SAVED_AT, now)
            saved = self.store.aset(self._key(sid), dict(session), self.idle_seconds)
            if retired:
                # Two keys, two connections: the new id is saved while the old
                # one's delete waits for its disk flush.
                await asyncio.gather(self.store.adelete(self._key(retired)), saved)
            else:
                await saved
        headers.append("Set-Cookie", self._cookie(sid, max_age=None))

    def _read_cookie(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header is just no session
                    return None
                if self.cookie_name in jar:
                    return jar[self.cookie_name].value or None
        return None

    def _cookie(self, value: str, *, max_age: int | None) -> str:
        parts = [f"{self.cookie_name}={value}", f"Path={self.path}", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)
