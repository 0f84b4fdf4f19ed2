"""Pages answered by a plain Starlette route: the request in, the response out.

The login chain's busiest pages (the authorization request and its resume,
the login page and ``POST /login``: every employer's login passes each
once) take what they need from the request themselves instead of through
FastAPI's dependency injection. For an ``APIRoute``, FastAPI solves the
route's dependencies and parameters and wraps the endpoint on every
request: measured here, 140-180 µs of CPU per request for a route taking
only the ``Request``, 30-40 µs for the same endpoint as a plain route, and
the login pages' dependencies and query parameters added as much again.

Everything else about a page is unchanged: the middleware (session, request
id and access line, security headers, errors) and the exception handlers
(``Redirect``, ``Refused``, a failed CSRF check) wrap these routes as they
wrap FastAPI's. What FastAPI's dependencies did, the endpoint does by
calling the same functions (``csrf_form``, which checks the CSRF token and
the form's text for NUL bytes, then the service's ``form_fields``;
``client_address``); the app-wide NUL check on the address
(``no_nul_in_address``, an app dependency FastAPI would run) is run here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from shared.web.deps import no_nul_in_address

__all__ = ["plain_page", "PlainEndpoint"]

PlainEndpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class _ExactRoute:
    """What the access line, the request metrics and tracing read of a
    matched route (its ``path`` template), for a plain page: its path is
    exact, so the template is the path requested."""

    path: str


def plain_page(router: APIRouter, path: str, *, methods: Iterable[str]) -> Callable[[PlainEndpoint], PlainEndpoint]:
    """Register the decorated ``async def endpoint(request) -> Response`` at
    ``path`` (exact: no path parameters) on ``router`` as a plain route, not
    in the API description."""
    if "{" in path:
        raise ValueError(f"a plain page's path is exact: {path}")
    allowed = frozenset(method.upper() for method in methods)
    allow = ", ".join(sorted(allowed))
    # One per path served (the router's prefix is not known here).
    routes: dict[str, _ExactRoute] = {}

    def register(endpoint: PlainEndpoint) -> PlainEndpoint:
        async def page(request: Request) -> Response:
            served = request.scope["path"]
            request.scope["route"] = routes.get(served) or routes.setdefault(served, _ExactRoute(served))
            # Starlette's routes answer HEAD wherever GET is allowed; FastAPI's
            # do not, and a HEAD must not start an authorization or a QR session.
            if request.method not in allowed:
                raise HTTPException(405, headers={"Allow": allow})
            await no_nul_in_address(request)
            return await endpoint(request)

        page.__name__ = page.__qualname__ = endpoint.__name__
        router.add_route(path, page, methods=sorted(allowed), include_in_schema=False)
        return endpoint

    return register
