"""实名认证: 申请单位授权码, 申请记录 and 授权码实名 — the handler's side of
the seed's part 二 (一) 3 (the agency's side is :mod:`..staff.routes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.hrss_isso import messages as msg
from services.hrss_isso.accounts.bindings import active_binding
from services.hrss_isso.accounts.units import SEARCH_FIELDS
from services.hrss_isso.authorisation_codes.applications import CHANNEL_LABELS, code_state
from services.hrss_isso.authorisation_codes.materials import MATERIAL_KINDS, size_label
from services.hrss_isso.deps import PERSON_LOGIN, CurrentPerson, IssoDep, PersonDep, ProviderDep, load_unit
from services.hrss_isso.forms import FormRejected, text_of
from services.hrss_isso.hooks import handler_acr
from services.hrss_isso.models import Person
from services.hrss_isso.runtime import IssoServices
from services.hrss_isso.web import flash, page, parked, pop_flash, required_level, with_interaction
from shared.db import Database
from shared.oauth.provider.provider import Provider
from shared.trust import TrustLevel
from shared.web.app import render
from shared.web.bodies import BodyTooLarge, capped_request
from shared.web.csrf import verify_csrf_form
from shared.web.deps import ClockDep, CsrfForm, DbDep

__all__ = ["router"]

router = APIRouter(prefix="/isso/realname", include_in_schema=False)


# The authorization request a handler left at 账号可信等级不足 (去实名核验升级),
# kept in the session across the 实名认证 pages.
WAITING_KEY = "realname_interaction"


async def waiting_request(request: Request, provider: Provider, db: Database, interaction: str = "") -> dict[str, Any] | None:
    """「您正在登录…」 on every page of the detour, and the way back: to the
    request itself once the handler acts for a unit (the level is read
    afresh there), else to the choice of unit. ``ready``: the unit acted
    for already reaches the level the request needs."""
    session = request.session
    found = await parked(provider, interaction)
    if found is not None:
        session[WAITING_KEY] = interaction
    elif pending := session.get(WAITING_KEY):
        found = await parked(provider, pending)
    if found is None:
        session.pop(WAITING_KEY, None)  # answered, cancelled or expired
        return None
    act, unit_id = session.get("act"), session.get("unit_id")
    if not (act and unit_id):
        return {"client_name": found.client_name, "url": with_interaction("/isso/login/units", found.id), "ready": False}

    def level() -> TrustLevel | None:
        with db.transaction() as s:
            return TrustLevel.from_acr(handler_acr(s, unit_id=unit_id, person_id=act.get("sub", "")))

    reached = await run_in_threadpool(level)
    ready = reached is not None and reached >= required_level(found)
    return {"client_name": found.client_name, "url": f"{provider.config.issuer}/authorize/resume?interaction={found.id}", "ready": ready}


# -- 申请单位授权码 -------------------------------------------------------------
@router.get("")
async def realname(request: Request, person: CurrentPerson, provider: ProviderDep, db: DbDep, interaction: str = "") -> Response:
    # Reached from the 账号可信等级不足 page with the waiting request: the
    # personal login it may need keeps it, so that page still says 「您正在登录…」,
    # and so do the 实名认证 pages after it (the session keeps it).
    await waiting_request(request, provider, db, interaction)
    if person is None:
        return RedirectResponse(with_interaction(PERSON_LOGIN, interaction), status_code=303)
    return RedirectResponse("/isso/realname/apply", status_code=303)


async def _apply_page(
    request: Request,
    services: IssoServices,
    provider: Provider,
    db: Database,
    person: Person,
    *,
    field: str,
    q: str,
    ticked: set[str],
    errors: dict | None,
    status: int | None = None,
) -> Response:
    return page(
        request,
        "realname_apply.html",
        {
            "candidates": await run_in_threadpool(
                db.detached, services.authorizations.candidates, person_id=person.id, field=field, value=q
            ),
            "search_fields": SEARCH_FIELDS,
            "field": field,
            "q": q,
            "ticked": ticked,
            "kinds": MATERIAL_KINDS,
            "max_size": size_label(services.settings.upload_max_bytes),
            "flash": pop_flash(request),
            "waiting": await waiting_request(request, provider, db),
        },
        errors=errors,
        status=status,
    )


@router.get("/apply")
async def apply(
    request: Request, person: PersonDep, services: IssoDep, provider: ProviderDep, db: DbDep, field: str = "unit_code", q: str = ""
) -> Response:
    field = field if field in SEARCH_FIELDS else "unit_code"
    return await _apply_page(request, services, provider, db, person, field=field, q=q[:20], ticked=set(), errors=None)


@router.post("/apply")
async def apply_submit(request: Request, person: PersonDep, services: IssoDep, provider: ProviderDep, db: DbDep) -> Response:
    # PersonDep has refused an anonymous request before any of the body is
    # read; the form is read here, within a cap, so no CSRF-form dependency
    # (it would spool the whole body first).
    max_bytes = services.settings.upload_max_bytes
    capped = capped_request(request, 3 * max_bytes + 256 * 1024)
    try:
        form = await verify_csrf_form(capped)
        unit_ids = [v for v in form.getlist("unit_id") if isinstance(v, str)][:50]
        files: dict[str, tuple[str | None, bytes]] = {}
        for kind in MATERIAL_KINDS:
            upload = form.get(kind)
            if upload is not None and not isinstance(upload, str):
                files[kind] = (upload.filename, await upload.read(max_bytes + 1))
    except BodyTooLarge:
        too_large = msg.UPLOAD_BODY_TOO_LARGE.format(size=size_label(max_bytes))
        return await _apply_page(
            request, services, provider, db, person, field="unit_code", q="", ticked=set(), errors={"": too_large}, status=413
        )
    finally:
        # The parser's spooled temporary files go now, not at garbage collection.
        await capped.close()
    try:
        await run_in_threadpool(lambda: services.authorizations.apply(person_id=person.id, unit_ids=unit_ids, files=files))
    except FormRejected as rejected:
        return await _apply_page(
            request, services, provider, db, person, field="unit_code", q="", ticked=set(unit_ids), errors=rejected.errors
        )
    flash(request, msg.APPLICATION_SUBMITTED)
    return RedirectResponse("/isso/realname/applications", status_code=303)


@router.get("/applications")
async def applications(
    request: Request, person: PersonDep, services: IssoDep, provider: ProviderDep, db: DbDep, clock: ClockDep
) -> Response:
    now = clock.now()
    return render(
        request,
        "realname_applications.html",
        {
            "rows": await run_in_threadpool(db.detached, services.authorizations.applications_of_person, person_id=person.id),
            "channels": CHANNEL_LABELS,
            "state": lambda a: code_state(a, now),
            "flash": pop_flash(request),
            "waiting": await waiting_request(request, provider, db),
        },
    )


# -- 授权码实名 ----------------------------------------------------------------
async def _code_page(request: Request, provider: Provider, db: Database, *, errors: dict | None = None) -> Response:
    unit = await load_unit(request, db) if request.session.get("act") else None
    authorized = False
    if unit is not None:
        person_id = request.session["person_id"]

        def check() -> bool:
            with db.transaction() as s:
                binding = active_binding(s, unit_id=unit.id, person_id=person_id)
                return binding is not None and binding.authorized_at is not None

        authorized = await run_in_threadpool(check)
    ctx: dict[str, Any] = {
        "unit": unit,
        "authorized": authorized,
        "needs_unit": msg.CODE_NEEDS_UNIT,
        "flash": pop_flash(request),
        "waiting": await waiting_request(request, provider, db),
    }
    return page(request, "realname_code.html", ctx, errors=errors)


@router.get("/code")
async def code(request: Request, person: PersonDep, provider: ProviderDep, db: DbDep) -> Response:
    return await _code_page(request, provider, db)


@router.post("/code")
async def code_submit(request: Request, form: CsrfForm, person: PersonDep, services: IssoDep, provider: ProviderDep, db: DbDep) -> Response:
    unit_id = request.session.get("unit_id") if request.session.get("act") else None
    if not unit_id:
        return await _code_page(request, provider, db, errors={"": msg.CODE_NEEDS_UNIT})
    try:
        await run_in_threadpool(
            lambda: services.authorizations.enter_code(person_id=person.id, unit_id=unit_id, code=text_of(form, "code", 40))
        )
    except FormRejected as rejected:
        return await _code_page(request, provider, db, errors=rejected.errors)
    flash(request, msg.CODE_DONE)
    return RedirectResponse("/isso/realname/code", status_code=303)
