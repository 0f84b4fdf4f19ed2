"""A client's public keys (RFC 7591 ``jwks`` or ``jwks_uri``): they verify its
request objects (RFC 9101) and its ``private_key_jwt`` assertions (RFC 7523).

Keys fetched from a ``jwks_uri`` are cached in this process for a few
minutes: a cache of public data, which any replica can rebuild, not shared
state. A key id the cached set lacks fetches it again (the client rotated),
at most once per ``refetch_interval``, so made-up key ids cannot make the
provider hammer the client. The URIs come from the operators' client
configuration, never from a request, so fetching them is not an open
server-side request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from shared.oauth.provider.models import Client
from shared.settings import CLIENT_SIGNING_ALGORITHMS

__all__ = ["ClientKeys", "verifying", "CLIENT_SIGNING_ALGORITHMS", "CLOCK_LEEWAY"]

log = logging.getLogger("oauth.provider")

# Seconds a client's clock may be off from ours (exp, nbf, iat).
CLOCK_LEEWAY = 30

# The key id in the protected header of the JWS being verified. Authlib asks
# for a client's keys without the token (resolve_client_public_key(client)),
# yet only the kid tells that the client rotated its key: see ``verifying``.
_verifying_kid: ContextVar[str | None] = ContextVar("verifying_kid", default=None)


@contextmanager
def verifying(compact: object) -> Iterator[None]:
    """While ``compact`` (a client assertion, a request object) is verified,
    :meth:`ClientKeys.key_set` knows its key id."""
    kid = None
    if isinstance(compact, str):
        try:
            kid = extract_compact(compact.encode()).protected.get("kid")
        except (JoseError, ValueError, TypeError):
            kid = None  # unreadable: the verification itself refuses it
    token = _verifying_kid.set(kid if isinstance(kid, str) else None)
    try:
        yield
    finally:
        _verifying_kid.reset(token)


class ClientKeys:
    def __init__(
        self,
        *,
        ttl: float = 300.0,
        refetch_interval: float = 15.0,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.refetch_interval, self.timeout = ttl, refetch_interval, timeout
        self.transport = transport
        self._timer = timer
        self._fetched: dict[str, tuple[float, KeySet]] = {}
        self._inline: dict[str, tuple[object, KeySet]] = {}
        self._lock = threading.Lock()

    def key_set(self, client: Client) -> KeySet | None:
        """The client's keys; None when it registered none or they cannot be had."""
        kid = _verifying_kid.get()
        if client.registration.jwks:
            # Parsed once per registration (an RSA or EC import per assertion
            # and per request object otherwise); a changed jwks is parsed anew.
            cached_inline = self._inline.get(client.client_id)
            if cached_inline is not None and cached_inline[0] == client.registration.jwks:
                return cached_inline[1]
            try:
                inline = KeySet.import_key_set(client.registration.jwks)
            except (JoseError, ValueError, TypeError):
                log.warning("client jwks unreadable", extra={"fields": {"client_id": client.client_id}})
                return None
            with self._lock:
                self._inline[client.client_id] = (client.registration.jwks, inline)
            return inline
        if not client.registration.jwks_uri:
            return None
        now = self._timer()
        cached = self._fetched.get(client.registration.jwks_uri)
        fresh = cached is not None and now < cached[0] + self.ttl
        rotated = cached is not None and kid is not None and not _has_kid(cached[1], kid) and now >= cached[0] + self.refetch_interval
        if fresh and not rotated:
            return cached[1]
        keys = self._fetch(client)
        if keys is None:
            return cached[1] if cached is not None else None
        with self._lock:
            self._fetched[client.registration.jwks_uri] = (now, keys)
        return keys

    def _fetch(self, client: Client) -> KeySet | None:
        try:
            with httpx.Client(transport=self.transport, timeout=self.timeout, follow_redirects=False) as http:
                response = http.get(str(client.registration.jwks_uri), headers={"Accept": "application/json"})
            response.raise_for_status()
            return KeySet.import_key_set(response.json())
        except (httpx.HTTPError, JoseError, ValueError, TypeError) as exc:
            log.warning("client jwks_uri unreadable", extra={"fields": {"client_id": client.client_id, "error": type(exc).__name__}})
            return None


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)
