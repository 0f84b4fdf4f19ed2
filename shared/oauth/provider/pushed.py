"""Pushed authorization requests (RFC 9126): the parameters a client sent to
the PAR endpoint, kept under a ``request_uri`` until /authorize takes them.

They live in the shared key-value store (the database, or Redis), never in
one process: the browser may reach another replica than the one the client
pushed to. The reference is random and stored hashed; taking it deletes it
(``pop`` is atomic in both stores), so a ``request_uri`` works once.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.kvstore import KeyValueStore
from shared.randomness import TokenSource, hash_secret

__all__ = ["PushedRequests", "Pushed", "REQUEST_URI_PREFIX"]

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


@dataclass(frozen=True)
class Pushed:
    client_id: str
    params: list[tuple[str, str]]


class PushedRequests:
    def __init__(self, kv: KeyValueStore, tokens: TokenSource, ttl: int) -> None:
        self.kv, self.tokens, self.ttl = kv, tokens, ttl

    @staticmethod
    def _key(reference: str) -> str:
        return "par:" + hash_secret(reference)

    def push(self, client_id: str, params: list[tuple[str, str]]) -> str:
        """Keep ``params`` for ``client_id``; the ``request_uri`` to send the browser with."""
        reference = self.tokens.token(32)
        self.kv.set(self._key(reference), {"client_id": client_id, "params": [list(p) for p in params]}, self.ttl)
        return REQUEST_URI_PREFIX + reference

    def take(self, request_uri: str) -> Pushed | None:
        """The pushed request, once; None when unknown, expired or already taken."""
        if not request_uri.startswith(REQUEST_URI_PREFIX):
            return None
        value = self.kv.pop(self._key(request_uri[len(REQUEST_URI_PREFIX) :]))
        if not isinstance(value, dict):
            return None
        return Pushed(client_id=str(value["client_id"]), params=[(str(k), str(v)) for k, v in value["params"]])
