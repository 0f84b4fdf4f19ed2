"""A small form fuzzer over every route of an app: hostile path, query and
form values, with and without a CSRF token, must never get a 5xx.

It walks ``app.routes`` (the services' module-level routers and the fast
lane's exact paths), so a route added later is fuzzed without being listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from urllib.parse import quote

from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient

__all__ = ["fuzz_app"]

# Values that have broken servers before: too large for an INTEGER column
# or for Python's int conversion in drivers, negative, NUL, non-ASCII,
# path tricks, markup, an overlong string.
HOSTILE = ["0", "-1", "2147483648", "99999999999999999999999", "1e309", "\x00", "é中文", "../../etc/passwd", "<script>", "x" * 5000, ""]
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _routes(app) -> Iterator[tuple[str, set[str], list[str]]]:
    # FastAPI 0.165 keeps included routers as _IncludedRouter entries; their
    # effective contexts carry the full path, methods and parameters.
    for route in app.routes:
        if isinstance(route, _IncludedRouter):
            for context in route.effective_route_contexts():
                if context.dependant is not None:
                    yield context.path, set(context.methods), [p.name for p in context.dependant.query_params]
        elif isinstance(route, APIRoute):
            yield route.path, set(route.methods or ()), [p.name for p in route.dependant.query_params]
    for path, methods in getattr(app, "fast_routes", {}).items():
        yield path, set(methods), []


def _paths(path: str) -> Iterator[str]:
    names = _PARAM.findall(path)
    if not names:
        yield path
        return
    for value in HOSTILE:
        filled = _PARAM.sub(lambda _: quote(value, safe="") or "%20", path)
        yield filled


def fuzz_app(client: TestClient, *, csrf_token: str | None = None, skip: tuple[str, ...] = ()) -> list[str]:
    """Every route, every hostile value; returns the requests that got a 5xx."""
    failures: list[str] = []
    for path, methods, query in _routes(client.app):
        if path.startswith(skip):
            continue
        for url in islice(_paths(path), len(HOSTILE)):
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                for value in HOSTILE[:: 3 if query or method != "GET" else 11]:
                    params = {name: value for name in query}
                    data = {"csrf_token": csrf_token} if csrf_token else {}
                    data.update({"interaction": value, "login_name": value, "password": value, "id": value, "year": value})
                    response = client.request(method, url, params=params, data=data if method != "GET" else None, follow_redirects=False)
                    if response.status_code >= 500:
                        failures.append(f"{method} {url} {params} -> {response.status_code}")
    return failures
