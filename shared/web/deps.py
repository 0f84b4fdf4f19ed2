"""FastAPI dependencies every service shares, and the exceptions guards raise.

A handler says what it needs in its signature::

    @router.post("/records/{record_id}/decide")
    async def decide(record_id: int, form: CsrfForm, db: DbDep, clock: ClockDep) -> Response: ...

Services add their own in ``services/<name>/deps.py`` (the current account,
unit or staff member with a role). A guard that cannot let the request
through *raises*: :class:`Redirect` (to a login page, say) or
:class:`Refused` (a Chinese error page, or JSON under ``/api/``); both are
turned into responses by handlers that :func:`shared.web.app.build_app`
installs. Only this module and start-up code read ``request.app.state``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData, ImmutableMultiDict

from shared.clock import Clock
from shared.db import Database
from shared.kvstore import KeyValueStore
from shared.randomness import TokenSource
from shared.settings import ServiceSettings
from shared.web.csrf import verify_csrf_form

__all__ = [
    "Redirect",
    "Refused",
    "state",
    "from_state",
    "get_settings",
    "get_db",
    "get_kv",
    "get_clock",
    "get_tokens",
    "get_session",
    "csrf_form",
    "SettingsDep",
    "DbDep",
    "KvDep",
    "ClockDep",
    "TokensDep",
    "SessionDep",
    "CsrfForm",
    "NUL_REFUSED",
    "no_nul_in_address",
    "refuse_nul",
]


class Redirect(Exception):
    """A guard sends the browser elsewhere (303), e.g. to the login page."""

    def __init__(self, url: str, *, status_code: int = 303) -> None:
        super().__init__(url)
        self.url = url
        self.status_code = status_code


class Refused(Exception):
    """A guard refuses the request with a page that says why (403 by default)."""

    def __init__(self, message: str, *, status_code: int = 403, back_url: str | None = None, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.back_url = back_url
        self.title = title


# Dependencies are ``async def`` on purpose: FastAPI runs a plain ``def``
# dependency in a worker thread, a hand-off per request for a dict lookup.


def state(request: Request, name: str) -> Any:
    """One named part of the app's injected state (for a service's own deps)."""
    return getattr(request.app.state, name)


def from_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency: the part ``create_app`` put on ``app.state`` as ``name``
    (``RelyingPartyDep = Annotated[RelyingParty, Depends(from_state("rp"))]``).
    Asynchronous, so that FastAPI does not send it to a worker thread."""

    async def part(request: Request) -> Any:
        return getattr(request.app.state, name)

    part.__name__ = f"state_{name}"
    return part


async def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_kv(request: Request) -> KeyValueStore:
    return request.app.state.kv


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock


async def get_tokens(request: Request) -> TokenSource:
    return request.app.state.tokens


async def get_session(request: Request) -> dict[str, Any]:
    """The server-side session of this browser (see shared.web.sessions)."""
    return request.session


# A NUL byte is in no name, number or address anyone types, and PostgreSQL's
# text cannot hold one: a value carrying it failed deep in a query (a 500
# found by tests/route_fuzz.py). It is refused once, here, for every page.
NUL_REFUSED = "提交的内容含有无法识别的字符，请检查后重新填写。"


def refuse_nul(values: Any) -> None:
    """Refused (400, the Chinese page) when a text value carries a NUL byte."""
    if any(isinstance(v, str) and "\x00" in v for v in values):
        raise Refused(NUL_REFUSED, status_code=400)


def _names_and_values(fields: ImmutableMultiDict) -> list[Any]:
    # Every name and every value: ``values()`` gives a repeated name's last
    # value only, and a page may read the others (``getlist``) or the names.
    return [part for item in fields.multi_items() for part in item]


async def no_nul_in_address(request: Request) -> None:
    """Every page route (build_app installs it): path and query without NUL."""
    refuse_nul([request.url.path, *_names_and_values(request.query_params)])


async def csrf_form(request: Request) -> FormData:
    """The posted form, read once, after its CSRF token matched the session's
    (and none of its text holds a NUL byte)."""
    form = await verify_csrf_form(request)
    refuse_nul(_names_and_values(form))
    return form


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
KvDep = Annotated[KeyValueStore, Depends(get_kv)]
ClockDep = Annotated[Clock, Depends(get_clock)]
TokensDep = Annotated[TokenSource, Depends(get_tokens)]
SessionDep = Annotated[dict[str, Any], Depends(get_session)]
CsrfForm = Annotated[FormData, Depends(csrf_form)]
