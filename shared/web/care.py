"""关怀版: the large-print mode the provincial portal offers older users.

A switch in every page's header leads to ``/care-mode``, which remembers the
choice in a cookie and sends the browser back to the page it came from; the
base template then puts ``care`` on ``<body>`` and the style sheets enlarge
text (``--text-scale``), targets and contrast. The cookie is a display
preference only: it is read by no code but the templates, so the switch is a
plain link rather than a form with a CSRF token.

The cookie has no ``Domain``: each host keeps its own. On one host (the
development stack, ports 8001–8003) the three services share it, as cookies
ignore the port.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from shared.web.redirects import local_path

__all__ = ["CARE_COOKIE", "CARE_PATH", "care_mode", "care_switch_href", "switch_care_mode"]

CARE_COOKIE = "care_mode"
CARE_PATH = "/care-mode"
_ONE_YEAR = 365 * 24 * 3600


def care_mode(request: Request) -> bool:
    return request.cookies.get(CARE_COOKIE) == "1"


def care_switch_href(request: Request, home_path: str, *, home: bool = False) -> str:
    """The switch's link: turn the mode over and come back here. A page shown
    after a POST is not fetched again (its address answers only POST), and an
    error page (``home``) does not echo the address it refused: from those
    the switch returns to the service's home page."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = here if request.method == "GET" and not home else home_path
    turn = "0" if care_mode(request) else "1"
    return f"{CARE_PATH}?on={turn}&next={quote(back, safe='')}"


def switch_care_mode(request: Request, *, home_path: str, secure: bool) -> Response:
    on = request.query_params.get("on") == "1"
    target = local_path(request.query_params.get("next", "")) or home_path
    response = RedirectResponse(target, status_code=303)
    if on:
        response.set_cookie(CARE_COOKIE, "1", max_age=_ONE_YEAR, path="/", secure=secure, httponly=True, samesite="lax")
    else:
        response.delete_cookie(CARE_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    return response
