"""What gdzwfw_idp's handlers need, as FastAPI dependencies (see ``shared.web.deps``).

A handler's signature says what it needs::

    @router.post("/staff/units/{account_id}/hall-check")
    async def hall_check(account_id: str, form: CsrfForm, staff: HallOfficer, idp: IdpDep) -> Response: ...

Guards raise :class:`~shared.web.deps.Redirect` (to a login page) or
:class:`~shared.web.deps.Refused` (a page saying why); ``build_app`` turns
them into responses. Every dependency here is ``async``: a plain ``def``
dependency would cost a worker-thread hop per request. The login page and
``POST /login`` (plain routes, :mod:`shared.web.plain_pages`) call
``get_idp``, ``form_fields`` and ``client_address`` themselves. Only this
module and ``app.py`` read ``request.app.state``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.login.sessions import Current, load_current
from services.gdzwfw_idp.models import StaffAccount
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.staff.accounts import ROLE_DUTIES, ROLES, SESSION_STAFF, active_staff
from shared.oauth.provider.provider import Provider
from shared.web.deps import CsrfForm, Redirect, Refused

__all__ = [
    "IdpDep",
    "ProviderDep",
    "FormDep",
    "OwnerDep",
    "AddressDep",
    "CurrentLogin",
    "LoggedIn",
    "OwnAccount",
    "HandlerPerson",
    "ActingHandler",
    "VerifyingLegalPerson",
    "HandlersOwner",
    "HandlersRemover",
    "StaffMember",
    "HallOfficer",
    "own_legal_person",
    "require_staff",
]

# Passwords are taken exactly as typed (a stray space is part of the password).
_SECRETS = frozenset({"password", "password_confirm", "current_password", "new_password", "new_password_confirm"})
_OWNER = "qr_owner"


async def get_idp(request: Request) -> IdpParts:
    return request.app.state.idp


async def get_provider(request: Request) -> Provider:
    return request.app.state.provider


IdpDep = Annotated[IdpParts, Depends(get_idp)]
ProviderDep = Annotated[Provider, Depends(get_provider)]


async def form_fields(form: CsrfForm) -> dict[str, str]:
    """The CSRF-checked form as plain strings (files and repeats ignored)."""
    return {k: v.strip() if k not in _SECRETS else v for k, v in form.items() if isinstance(v, str)}


FormDep = Annotated[dict[str, str], Depends(form_fields)]


async def browser_owner(request: Request, idp: IdpDep) -> str:
    """A random value naming this browser as the owner of what it was shown
    (QR sessions, certificate challenges, the registration wizard)."""
    owner = request.session.get(_OWNER)
    if not owner:
        owner = idp.tokens.token(16)
        request.session[_OWNER] = owner
    return owner


async def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


OwnerDep = Annotated[str, Depends(browser_owner)]
AddressDep = Annotated[str, Depends(client_address)]


# -- the browser's login -------------------------------------------------------------
async def current_login(request: Request, idp: IdpDep) -> Current | None:
    """The logged-in account, or None (no login, or one that has ended)."""
    return await run_in_threadpool(load_current, idp.db, request.session)


CurrentLogin = Annotated[Current | None, Depends(current_login)]


async def logged_in(me: CurrentLogin) -> Current:
    if me is None:
        raise Redirect("/login")
    return me


LoggedIn = Annotated[Current, Depends(logged_in)]


async def own_account(me: LoggedIn) -> Current:
    """The account itself: a handler acting for it may not change its settings."""
    if me.acting:
        raise Refused(msg.HANDLER_ONLY_OWN, back_url="/account")
    return me


OwnAccount = Annotated[Current, Depends(own_account)]


async def handler_person(me: CurrentLogin) -> Current:
    """A natural person logged in by 经办人登录, about to choose a unit."""
    if me is None or me.account.account_type != "natural_person":
        raise Redirect("/login?tab=legal&handler=1")
    return me


HandlerPerson = Annotated[Current, Depends(handler_person)]


async def acting_handler(me: CurrentLogin) -> Current:
    """A handler acting for a unit (who may stop doing so)."""
    if me is None or not me.acting:
        raise Redirect("/account")
    return me


ActingHandler = Annotated[Current, Depends(acting_handler)]


def own_legal_person(
    *, back_url: str, login_url: str = "/login", not_legal: str = msg.HANDLER_ONLY_OWN
) -> Callable[..., Awaitable[Current]]:
    """A guard for the legal person itself: logged in, not a handler acting
    for it, and a legal person (``not_legal`` says why a person may not)."""

    async def guard(me: CurrentLogin) -> Current:
        if me is None:
            raise Redirect(login_url)
        if me.acting:
            raise Refused(msg.HANDLER_ONLY_OWN, back_url=back_url)
        if me.account.account_type != "legal_person":
            raise Refused(not_legal, back_url=back_url)
        return me

    return guard


VerifyingLegalPerson = Annotated[
    Current,
    Depends(own_legal_person(back_url="/account/verification", login_url="/login?tab=legal", not_legal=msg.PERSON_VERIFY_ELSEWHERE)),
]
HandlersOwner = Annotated[Current, Depends(own_legal_person(back_url="/account/handlers", not_legal=msg.HANDLER_ADD_LEGAL_ONLY))]
HandlersRemover = Annotated[Current, Depends(own_legal_person(back_url="/account/handlers"))]


# -- 办事大厅 staff ------------------------------------------------------------------
async def current_staff(request: Request, idp: IdpDep) -> StaffAccount:
    staff_id = request.session.get(SESSION_STAFF)
    staff = await run_in_threadpool(active_staff, idp.db, staff_id=staff_id) if staff_id else None
    if staff is None:
        raise Redirect("/staff/login")
    return staff


StaffMember = Annotated[StaffAccount, Depends(current_staff)]


def require_staff(role: str, *, back_url: str) -> Callable[..., Awaitable[StaffAccount]]:
    """A logged-in staff member with ``role``; ``back_url`` may name path
    parameters (``/staff/units/{account_id}``)."""

    async def guard(request: Request, staff: StaffMember) -> StaffAccount:
        if staff.role != role:
            mine = ROLES.get(staff.role, staff.role)
            raise Refused(f"您的角色（{mine}）无权{ROLE_DUTIES[role]}", back_url=back_url.format(**request.path_params))
        return staff

    return guard


HallOfficer = Annotated[StaffAccount, Depends(require_staff("hall_officer", back_url="/staff/units/{account_id}"))]
