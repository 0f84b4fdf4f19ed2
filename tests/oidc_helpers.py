"""Small helpers for driving an OpenID provider in tests."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import secrets
from urllib.parse import parse_qs

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

# demo-rp and its requests live in devtools (the benches drive it too).
from devtools.demo_client import DEMO_REDIRECT, DEMO_RP, Pkce, authorize_params, query_of

__all__ = ["Pkce", "authorize_params", "query_of", "decode_id_token", "run", "DEMO_RP", "DEMO_REDIRECT"]


def decode_id_token(id_token: str, jwks: dict, *, algorithms: tuple[str, ...] = ("RS256",)) -> dict:
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=list(algorithms))
    return dict(token.claims)


def essential_acr_claims(*levels: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(levels)}}})


def unsigned_request_object(claims: dict) -> str:
    """An OIDC Core §6.1 request object with ``alg: none`` (what it says
    matters to the tests, not who signed it)."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


def run(coroutine_factory):
    """Run a coroutine to completion on a fresh loop in another thread (the
    browser tests' Playwright keeps an event loop on the main thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


def capture_logout_notices(provider) -> list[tuple[str, str]]:
    """The back-channel logout notices the provider sends, as (uri, logout
    token), at its outbox's HTTP transport; every client answers 200."""
    notices: list[tuple[str, str]] = []

    def receive(request: httpx.Request) -> httpx.Response:
        notices.append((str(request.url), parse_qs(request.content.decode())["logout_token"][0]))
        return httpx.Response(200)

    provider.outbox.transport = httpx.MockTransport(receive)
    return notices


def client_key(kid: str = "client-key-1") -> ECKey:
    """A client's signing key (ES256, as FAPI 2.0 allows)."""
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"}, private=True)


def public_jwks(*keys: ECKey) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def signed_request_object(key: ECKey, params: dict, *, issuer: str, now: int, lifetime: int = 300, **envelope: object) -> str:
    """An RFC 9101 request object of ``params``, signed by ``key``; the JWT
    claims (iss, aud, exp, nbf, iat, jti) are right unless ``envelope``
    changes them (None removes one)."""
    claims = {
        "iss": params["client_id"],
        "aud": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(12),
        **params,
        **envelope,
    }
    return jwt.encode(
        {"alg": "ES256", "kid": key.kid, "typ": "oauth-authz-req+jwt"}, {k: v for k, v in claims.items() if v is not None}, key
    )


def dpop_proof(key: ECKey, method: str, url: str, *, iat: int, access_token: str | None = None, **claims: object) -> str:
    """An RFC 9449 proof by ``key`` for ``method`` ``url`` (``ath`` of
    ``access_token``); ``claims`` add to or override the claims (None removes one)."""
    import hashlib

    body: dict = {"jti": secrets.token_urlsafe(12), "htm": method, "htu": url, "iat": iat}
    if access_token is not None:
        body["ath"] = base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()
    body.update(claims)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, {k: v for k, v in body.items() if v is not None}, key)
