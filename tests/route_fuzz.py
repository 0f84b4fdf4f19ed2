"""A small form fuzzer over every route of an app: hostile path, query and
form values, with and without a CSRF token, anonymous and in a logged-in
session of each role, must never get a 5xx.

It walks ``app.routes`` (the services' module-level routers and the fast
lane's exact paths), so a route added later is fuzzed without being listed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import islice
from urllib.parse import quote

from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient

__all__ = ["fuzz_app"]

# Values that have broken servers before: too large for an INTEGER column
# or for Python's int conversion in drivers, negative, NUL, non-ASCII,
# path tricks, markup, an overlong string; last, the first row's id, so that
# a logged-in walk takes the hostile form values to a record that exists.
HOSTILE = [
    "0",
    "-1",
    "2147483648",
    "99999999999999999999999",
    "1e309",
    "\x00",
    "é中文",
    "../../etc/passwd",
    "<script>",
    "x" * 5000,
    "",
    "1",
]
# Query and form values: those that broke servers in text fields (a NUL byte,
# which PostgreSQL's text cannot hold; empty; an int past INTEGER; overlong).
FIELD_VALUES = ["\x00", "", "2147483648", "x" * 5000]
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_FIELD = re.compile(r'(?:\bname="|field\(")([a-z]\w*)"')


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


def _form_fields(app) -> list[str]:
    """The names of the fields on the app's pages (``name="…"`` and the
    ``field("…")`` macro in its templates): the forms a route reads by hand
    get the hostile values in the fields it really reads."""
    names = {"interaction", "login_name", "password", "id", "year"}
    templates = getattr(app.state, "templates", None)
    env = templates.env if templates is not None else None
    for template in env.list_templates(extensions=["html"]) if env is not None else ():
        source = env.loader.get_source(env, template)[0]
        names.update(_FIELD.findall(source))
    names.discard("csrf_token")
    return sorted(names)


def _paths(path: str) -> Iterator[str]:
    names = _PARAM.findall(path)
    if not names:
        yield path
        return
    for value in HOSTILE:
        filled = _PARAM.sub(lambda _: quote(value, safe="") or "%20", path)
        yield filled


def fuzz_app(
    client: TestClient,
    *,
    csrf_token: str | None = None,
    skip: tuple[str, ...] = (),
    logged_in: Callable[[TestClient], bool] | None = None,
) -> list[str]:
    """Every route, every hostile value; returns the requests that got a 5xx.

    ``logged_in``: ``client`` holds a login, and this probe says it still
    does. It is asked after each route, so the whole walk really runs behind
    the login: a route that ends the session is reported (and the walk
    stops there), to be skipped (``skip``: path prefixes, such as logout).
    """
    failures: list[str] = []
    fields = _form_fields(client.app)
    if logged_in is not None and not logged_in(client):
        return ["the session is not logged in before the walk"]
    for path, methods, query in _routes(client.app):
        if path.startswith(skip):
            continue
        for url in islice(_paths(path), len(HOSTILE)):
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                # A GET without query parameters sends no values: once is enough.
                for value in FIELD_VALUES if query or method != "GET" else FIELD_VALUES[:1]:
                    params = {name: value for name in query}
                    data = {name: value for name in fields}
                    if csrf_token:
                        data["csrf_token"] = csrf_token
                    response = client.request(method, url, params=params, data=data if method != "GET" else None, follow_redirects=False)
                    if response.status_code >= 500:
                        failures.append(f"{method} {url} {params} -> {response.status_code}")
        if logged_in is not None and not logged_in(client):
            failures.append(f"{path} ended the session")
            break
    return failures
