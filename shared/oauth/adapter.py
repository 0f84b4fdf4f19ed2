"""The one adapter between Starlette and Authlib's synchronous server core.

Authlib has no FastAPI integration (DESIGN.md § Protocol floor). The route
reads the query and form *asynchronously*, builds an :class:`OAuth2Request`
from them here, and then runs the grant in a worker thread on a synchronous
database session; the result comes back as a Starlette response. Compare
``authlib/integrations/flask_oauth2`` and polar's ``oauth2/requests.py``.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import Response

from shared.web.deps import refuse_nul, state
from shared.web.fastlane import MachineRequest

if TYPE_CHECKING:
    from shared.oauth.provider.dpop import Proof

__all__ = ["StarletteOAuth2Request", "read_oauth2_request", "machine_oauth2_request", "StarletteAuthorizationServer", "AuthlibResponse"]


class _MultiDictPayload(OAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        # First value wins in ``data``; Authlib rejects duplicates separately.
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):
    """An Authlib request built from already-read Starlette data.

    ``session`` is the server-side session dict of the HTTP request, kept for
    endpoints that act on the browser session (authorization, logout).
    ``persist_on_error`` lets a grant ask the route to commit even though it
    answers with an error (revoking tokens on a replayed code). ``pushed``:
    the authorization parameters came from the PAR endpoint (RFC 9126), or
    from a parked request that was judged when it arrived.
    """

    def __init__(
        self,
        *,
        method: str,
        uri: str,
        headers: Any,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        session: dict | None = None,
        client_address: str | None = None,
    ) -> None:
        # OAuth2Request.__init__ minus its per-request transport check: the
        # URI is always the configured public origin plus a path, so the
        # check is made once per origin (_check_transport). It parsed the
        # host as an IP address on every request: a fifth of a token grant's
        # CPU on the fast lane. test_adapter pins these attributes to Authlib's.
        _check_transport(uri)
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        self._args = {k: v for k, v in query}
        self._form = {k: v for k, v in form}
        self.payload = _MultiDictPayload(query + form if method == "GET" else form + query)
        self.session = session if session is not None else {}
        self.client_address = client_address
        self.persist_on_error = False
        self.pushed = False
        # The key thumbprint of the request's checked DPoP proof (RFC 9449), if
        # any, and the proof (its algorithm is judged once the client is known).
        self.dpop_jkt: str | None = None
        self.dpop_proof: Proof | None = None

    def use_params(self, items: list[tuple[str, str]]) -> None:
        """Serve these authorization parameters instead of the ones the request
        carried (a pushed request's, or a request object's claims)."""
        self.payload = _MultiDictPayload(items)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


async def read_oauth2_request(request: Request, *, params: dict[str, str] | None = None) -> StarletteOAuth2Request:
    """Read everything Authlib will need while we are still on the event loop.

    ``params`` replaces the query string (used when resuming a stored
    authorization request after the login interaction).
    """
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded") or content_type.startswith("multipart/form-data"):
            data: FormData = await request.form()
            form = [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
            refuse_nul(part for item in form for part in item)
    query = list(params.items()) if params is not None else list(QueryParams(request.url.query).multi_items())
    return StarletteOAuth2Request(
        method=request.method,
        uri=public_uri(state(request, "settings").public_url, request.url.path, request.url.query),
        headers=request.headers,
        query=query,
        form=form,
        session=request.scope.get("session"),
        client_address=request.client.host if request.client else None,
    )


def machine_oauth2_request(request: MachineRequest, *, public_url: str) -> StarletteOAuth2Request:
    """The same request, from the fast lane (token, introspection, revocation,
    userinfo: no browser session)."""
    return StarletteOAuth2Request(
        method=request.method,
        uri=public_uri(public_url, request.path, request.query_string),
        headers=request.headers,
        query=request.query(),
        form=request.form(),
        client_address=request.client_host,
    )


def public_uri(public_url: str, path: str, query: str) -> str:
    """The URI Authlib sees is the one the caller used: the configured public
    origin, not whatever host a reverse proxy forwarded to (Authlib refuses
    non-HTTPS URIs other than loopback, and TLS ends at the proxy)."""
    scheme, netloc = _origin(public_url)
    return urlunsplit((scheme, netloc, path, query, ""))


@functools.lru_cache(maxsize=16)
def _origin(public_url: str) -> tuple[str, str]:
    public = urlsplit(public_url)
    return public.scheme, public.netloc


@functools.lru_cache(maxsize=16)
def _checked_origin(origin: str) -> bool:
    InsecureTransportError.check(origin + "/")
    return True


def _check_transport(uri: str) -> None:
    """Authlib's InsecureTransportError check, once per origin."""
    scheme, _, rest = uri.partition("://")
    _checked_origin(f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}")


class AuthlibResponse(Response):
    """A Starlette response with the ``location`` attribute Authlib's
    extensions (RFC 9207's issuer parameter) read and rewrite."""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["location"] = value


# Authlib's errors for "no Authorization header" and "not a Bearer one".
_NO_BEARER_CREDENTIALS = frozenset({"missing_authorization", "unsupported_token_type"})


class StarletteAuthorizationServer(AuthorizationServer):
    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        raise TypeError("build the request with read_oauth2_request() in the route")

    def create_json_request(self, request: Any):  # pragma: no cover - no JSON endpoints
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> AuthlibResponse:
        headers = dict(headers or [])
        if isinstance(body, dict):
            # RFC 6749 §5.2: a client that failed to authenticate gets 401.
            if body.get("error") == "invalid_client":
                status = 401
                headers.setdefault("WWW-Authenticate", 'Basic realm="token"')
            elif body.get("error") == "insufficient_scope" and "WWW-Authenticate" not in headers:
                headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope", scope="openid"'
            elif body.get("error") in _NO_BEARER_CREDENTIALS:
                # RFC 6750 §3.1: a request without bearer credentials gets a
                # bare challenge, no error code (Authlib's codes are not registered).
                body = {}
                headers["WWW-Authenticate"] = "Bearer"
            challenge = headers.get("WWW-Authenticate", "")
            if challenge[:7].lower() == "bearer " and not challenge.startswith("Bearer "):
                # Authlib writes the scheme as the token type came ("bearer");
                # clients matching "Bearer" literally would miss the challenge.
                headers["WWW-Authenticate"] = "Bearer " + challenge[7:]
            content = orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        else:
            content = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        return AuthlibResponse(content=content, status_code=status, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        # Signals are a Flask/Django feature; the services log instead.
        return None
