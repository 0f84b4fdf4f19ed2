"""The agency's pages under ``/agency``: staff login, overview, records and
bank-account correction, the list import, payment batches and their export,
the audit log. Each route names the permission its staff member needs
(``StaffViewing``, ``StaffImporting``, … in :mod:`services.refund_portal.deps`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from services.refund_portal import messages
from services.refund_portal.agency.audit_log import audit_log
from services.refund_portal.agency.import_jobs import ImportJobs, JobView
from services.refund_portal.agency.imports import TEMPLATE_HEADER, ImportResult, ListImporter, import_batch_rows, plan_view
from services.refund_portal.agency.insight import district_label, overview_charts, percent, season_insight
from services.refund_portal.agency.payments import (
    EXPORT_FORMATS,
    batch_detail,
    export_batch,
    mark_batch_paid,
    open_batch,
    payments_overview,
)
from services.refund_portal.agency.records import correct_account, overview, record_detail, record_list
from services.refund_portal.audit import Actor
from services.refund_portal.decisions import DecisionError
from services.refund_portal.deps import (
    AGENCY,
    AuditKeysDep,
    ClientAddress,
    Correcting,
    Exporting,
    Importing,
    ImportJobsDep,
    ListImporterDep,
    Paying,
    PoliciesDep,
    RefundSettingsDep,
    StaffAuditing,
    StaffImporting,
    StaffLoginDep,
    StaffRefused,
    StaffViewing,
)
from services.refund_portal.models import StaffAccount
from services.refund_portal.staff import login_error, may
from shared.money import format_fen
from shared.password_login import LoggedIn
from shared.web.app import render
from shared.web.bodies import BodyTooLarge, capped_request
from shared.web.csrf import verify_csrf_form
from shared.web.deps import ClockDep, CsrfForm, DbDep, Refused, SessionDep
from shared.web.params import YEAR_MAX, YEAR_MIN, DbId, PageNo, QueryId, TokenId, Year
from shared.web.redirects import local_path
from shared.web.sessions import rotate_session

__all__ = ["router", "page", "refused_page"]

router = APIRouter(prefix=AGENCY, include_in_schema=False)
FLASH = "agency_flash"
NAV = [
    ("overview", f"{AGENCY}/", "概览", "view"),
    ("records", f"{AGENCY}/records", "返还记录", "view"),
    ("imports", f"{AGENCY}/imports", "名单导入", "import"),
    ("payments", f"{AGENCY}/payments", "拨付发放", "view"),
    ("audit", f"{AGENCY}/audit", "审计日志", "audit"),
]


def page(request: Request, staff: StaffAccount, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """An agency page, with the navigation the staff member's role allows."""
    return render(
        request,
        template,
        {
            "staff": staff,
            "role_label": messages.ROLE.get(staff.role, staff.role),
            "nav": [(key, href, label) for key, href, label, perm in NAV if may(staff.role, perm)],
            "may": lambda perm: may(staff.role, perm),
            "STATUS": messages.STATUS,
            **context,
        },
        status_code=status_code,
    )


async def refused_page(request: Request, exc: StaffRefused) -> Response:
    """:class:`StaffRefused` as the agency's error page (installed by create_app)."""
    context = {"message": exc.message, "back_url": exc.back_url, "active": ""}
    return page(request, exc.staff, "agency/error.html", context, status_code=exc.status_code)


def _attachment(filename: str) -> dict[str, str]:
    # RFC 6266 / 5987: an ASCII fallback and the UTF-8 name.
    return {"Content-Disposition": f"attachment; filename=\"export.{filename.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(filename)}"}


def _year(form_value: Any) -> int | None:
    try:
        year = int(str(form_value))
    except ValueError:
        return None
    return year if YEAR_MIN <= year <= YEAR_MAX else None


# ---- login -------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    path = local_path(target or "")
    return path if path is not None and path.startswith(f"{AGENCY}/") else f"{AGENCY}/"


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:  # noqa: A002
    return render(request, "agency/login.html", {"next": _safe_next(next), "login_name": "", "error": None})


@router.post("/login")
async def login_submit(request: Request, form: CsrfForm, db: DbDep, staff_login: StaffLoginDep, address: ClientAddress) -> Response:
    login_name = str(form.get("login_name", ""))[:40]
    password = str(form.get("password", ""))[:128]
    code = str(form.get("totp", ""))[:6]
    target = _safe_next(str(form.get("next", "")))
    outcome = await run_in_threadpool(
        lambda: staff_login.authenticate(db, login_name=login_name, password=password, code=code, address=address)
    )
    if not isinstance(outcome, LoggedIn):
        context = {"next": target, "login_name": login_name, "error": login_error(outcome)}
        return render(request, "agency/login.html", context, status_code=400)
    rotate_session(request)
    request.session["staff"] = {"id": outcome.id, "login_name": outcome.account.login_name}
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(form: CsrfForm, session: SessionDep) -> Response:
    session.pop("staff", None)
    return RedirectResponse(f"{AGENCY}/login", status_code=303)


# ---- overview and records ----------------------------------------------------

# A six-digit division code, or empty for every district; anything else is
# the validation page (提交的信息不完整或格式不正确…), not silently all districts.
District = Annotated[str, Query(pattern=r"^(\d{6})?$")]


@router.get("/")
async def overview_page(
    request: Request, staff: StaffViewing, db: DbDep, policies: PoliciesDep, clock: ClockDep, year: Year = None, district: District = ""
) -> Response:
    def load() -> dict[str, Any]:
        context = overview(db, policies=policies, clock=clock, year=year)
        insight = season_insight(db, year=context["year"], district=district)
        return {
            **context,
            "insight": insight,
            "charts": overview_charts(insight),
            "district_name": district_label(district) if district else "",
            "rate_text": percent(insight.rate),
        }

    context = await run_in_threadpool(load)
    return page(request, staff, "agency/overview.html", {"active": "overview", **context})


@router.get("/records")
async def records(
    request: Request,
    staff: StaffViewing,
    db: DbDep,
    policies: PoliciesDep,
    clock: ClockDep,
    year: Year = None,
    status: str = "",
    q: str = "",
    page_no: PageNo = 1,
) -> Response:
    page_no = max(page_no, 1)
    found = await run_in_threadpool(record_list, db, policies=policies, clock=clock, year=year, status=status, query=q, page_no=page_no)
    return page(request, staff, "agency/records.html", {"active": "records", **found, "status": status, "q": q, "page_no": page_no})


async def _show_record(request: Request, staff: StaffAccount, db: DbDep, record_id: int, **extra: Any) -> Response:
    found = await run_in_threadpool(record_detail, db, record_id=record_id)
    if found is None:
        raise StaffRefused(staff, "未找到该返还记录。", status_code=404, back_url=f"{AGENCY}/records")
    view, history = found
    context = {"active": "records", "r": view, "history": history, "error": None, "form": {}, **extra}
    return page(request, staff, "agency/record.html", context, status_code=400 if context.get("error") else 200)


@router.get("/records/{record_id}")
async def record_page(request: Request, record_id: DbId, staff: StaffViewing, db: DbDep) -> Response:
    return await _show_record(request, staff, db, record_id)


@router.post("/records/{record_id}/bank-account")
async def correct_account_submit(
    request: Request,
    record_id: DbId,
    form: CsrfForm,
    act: Correcting,
    session: SessionDep,
    db: DbDep,
) -> Response:
    values = {
        "bank_name": str(form.get("bank_name", "")).strip(),
        "bank_account": "".join(str(form.get("bank_account", "")).split()).replace("-", ""),
        "reason": str(form.get("reason", "")).strip(),
    }
    error = await run_in_threadpool(correct_account, db, record_id=record_id, **act.audit, **values)
    if error:
        return await _show_record(request, act.staff, db, record_id, error=error, form=values)
    session[FLASH] = "银行账户已更正，记录已恢复为“待确认”，请通知单位重新确认。"
    return RedirectResponse(f"{AGENCY}/records/{record_id}", status_code=303)


# ---- imports -----------------------------------------------------------------


@dataclass(frozen=True)
class ListUpload:
    year: int
    filename: str
    content: bytes


async def read_list_upload(request: Request, settings: RefundSettingsDep, staff: StaffImporting) -> ListUpload:
    """The posted list file (at most one byte over the limit is read), after
    the form's CSRF token matched. ``staff`` is here to be checked first: an
    anonymous body is refused before any of it is read (FastAPI reads no body
    for this route, the form is read below); a body over the cap, declared or
    as it arrives, is refused with 413 as soon as it passes it."""
    limit = settings.import_max_bytes
    capped = capped_request(request, limit + 64 * 1024)  # the file and the few other fields
    try:
        form = await capped.form(max_files=1, max_fields=10)
        await verify_csrf_form(capped)  # the same parsed form
        upload = form.get("file")
        named = isinstance(upload, UploadFile) and bool(upload.filename)
        content = await upload.read(limit + 1) if named else b""
    except BodyTooLarge:
        text = messages.IMPORT["file_too_large"].format(limit=f"{limit // (1024 * 1024)} MB")
        raise Refused(text, status_code=413, back_url=f"{AGENCY}/imports") from None
    finally:
        await capped.close()  # the spooled upload
    return ListUpload(year=_year(form.get("year", "")) or 0, filename=upload.filename if named else "", content=content)


async def _imports_page(
    request: Request, staff: StaffAccount, importer: ListImporter, template: str, status_code: int, **extra: Any
) -> Response:
    context = await run_in_threadpool(importer.page, active="imports", **extra)
    return page(request, staff, template, context, status_code=status_code)


async def _import_done(
    request: Request, staff: StaffAccount, importer: ListImporter, result: ImportResult, plan: dict[str, Any] | None = None
) -> Response:
    """The page an import ends on, whether it ran at once or in the background (``plan``: as the job kept it)."""
    if result.refused is not None:
        return await _imports_page(request, staff, importer, "agency/imports.html", 400, file_error=result.refused)
    if plan is not None or result.plan is not None:
        extra = {"plan": plan or plan_view(result.plan), "upload_id": result.upload_id, "notice": result.notice}
        return await _imports_page(request, staff, importer, "agency/import_result.html", 400, **extra)
    if result.batch_id is None:
        request.session[FLASH] = f"文件“{result.filename}”中的 {result.unchanged} 行均已在此前导入，内容一致，本次未作任何更改。" + (
            f"（另有 {result.rejected} 行有错误，未导入）" if result.rejected else ""
        )
        return RedirectResponse(f"{AGENCY}/imports", status_code=303)
    return RedirectResponse(f"{AGENCY}/imports/{result.batch_id}", status_code=303)


@router.get("/imports")
async def imports_page(request: Request, staff: StaffImporting, importer: ListImporterDep, session: SessionDep) -> Response:
    return await _imports_page(request, staff, importer, "agency/imports.html", 200, flash=session.pop(FLASH, None))


@router.get("/imports/template.csv")
async def import_template(staff: StaffImporting) -> Response:
    content = ("\ufeff" + ",".join(TEMPLATE_HEADER) + "\r\n").encode("utf-8")
    return Response(content, media_type="text/csv; charset=utf-8", headers=_attachment("稳岗返还名单模板.csv"))


def _start_job(tasks: BackgroundTasks, jobs: ImportJobs, *, staff: StaffAccount, actor: Actor, upload_id: str, mode: str) -> Response:
    """The kept file imported after this answer; the browser waits on the job's page."""
    job_id = jobs.start(staff_id=staff.id, upload_id=upload_id, mode=mode)
    tasks.add_task(jobs.run, job_id, staff_id=staff.id, actor=actor)
    return RedirectResponse(f"{AGENCY}/imports/jobs/{job_id}", status_code=303)


@router.post("/imports")
async def import_submit(
    request: Request,
    upload: Annotated[ListUpload, Depends(read_list_upload)],
    act: Importing,
    importer: ListImporterDep,
    jobs: ImportJobsDep,
    tasks: BackgroundTasks,
) -> Response:
    staff = act.staff
    if jobs.wanted(len(upload.content)):
        kept = await run_in_threadpool(
            importer.keep_upload, staff_id=staff.id, year=upload.year, filename=upload.filename, content=upload.content
        )
        if isinstance(kept, ImportResult):
            return await _import_done(request, staff, importer, kept)
        return await run_in_threadpool(_start_job, tasks, jobs, staff=staff, actor=act.actor, upload_id=kept, mode="all")
    result = await run_in_threadpool(
        importer.upload, staff_id=staff.id, actor=act.actor, year=upload.year, filename=upload.filename, content=upload.content
    )
    return await _import_done(request, staff, importer, result)


@router.post("/imports/{upload_id}/good-rows")
async def import_good_rows(
    request: Request,
    upload_id: TokenId,
    form: CsrfForm,
    act: Importing,
    importer: ListImporterDep,
    jobs: ImportJobsDep,
    tasks: BackgroundTasks,
) -> Response:
    staff = act.staff
    if form.get("acknowledge") == "yes":
        kept = await run_in_threadpool(importer.kept_upload, staff_id=staff.id, upload_id=upload_id)
        if kept is not None and jobs.wanted(kept.size):
            return await run_in_threadpool(_start_job, tasks, jobs, staff=staff, actor=act.actor, upload_id=kept.id, mode="good_only")
    result = await run_in_threadpool(
        importer.import_kept,
        staff_id=staff.id,
        actor=act.actor,
        upload_id=upload_id,
        acknowledged=form.get("acknowledge") == "yes",
    )
    return await _import_done(request, staff, importer, result)


async def _job(staff: StaffAccount, jobs: ImportJobs, job_id: str) -> JobView:
    view = await run_in_threadpool(jobs.view, job_id=job_id, staff_id=staff.id)
    if view is None:
        raise StaffRefused(staff, "未找到该导入任务。", status_code=404, back_url=f"{AGENCY}/imports")
    return view


@router.get("/imports/jobs/{job_id}")
async def import_job_page(
    request: Request, job_id: TokenId, staff: StaffImporting, importer: ListImporterDep, jobs: ImportJobsDep
) -> Response:
    view = await _job(staff, jobs, job_id)
    if view.result is not None:
        return await _import_done(request, staff, importer, view.result, view.plan)
    return page(request, staff, "agency/import_job.html", {"active": "imports", "job": view})


@router.get("/imports/jobs/{job_id}/status")
async def import_job_status(job_id: TokenId, staff: StaffImporting, jobs: ImportJobsDep) -> Response:
    """The job's counts for its page's script (the page without script refreshes itself)."""
    view = await _job(staff, jobs, job_id)
    return JSONResponse(view.as_json(), headers={"Cache-Control": "no-store"})


@router.get("/imports/{batch_id}")
async def import_batch(request: Request, batch_id: DbId, staff: StaffViewing, db: DbDep) -> Response:
    found = await run_in_threadpool(import_batch_rows, db, batch_id=batch_id)
    if found is None:
        raise StaffRefused(staff, "未找到该导入批次。", status_code=404, back_url=f"{AGENCY}/imports")
    batch, rows = found
    total = format_fen(sum(r["amount_fen"] for r in rows))
    return page(request, staff, "agency/import_batch.html", {"active": "imports", "batch": batch, "rows": rows, "total": total})


# ---- payments ----------------------------------------------------------------


@router.get("/payments")
async def payments(
    request: Request, staff: StaffViewing, session: SessionDep, db: DbDep, policies: PoliciesDep, clock: ClockDep, year: Year = None
) -> Response:
    context = await run_in_threadpool(payments_overview, db, policies=policies, clock=clock, year=year)
    return page(request, staff, "agency/payments.html", {"active": "payments", **context, "flash": session.pop(FLASH, None), "error": None})


@router.post("/payments")
async def payments_create(form: CsrfForm, act: Exporting, session: SessionDep, db: DbDep) -> Response:
    year = _year(form.get("year", ""))
    if year is None:
        raise Refused(messages.IMPORT["year"], status_code=400, back_url=f"{AGENCY}/payments")
    try:
        batch_id = await run_in_threadpool(open_batch, db, year=year, **act.audit)
    except DecisionError as exc:
        session[FLASH] = messages.STAFF_ERROR[exc.code].format(year=year)
        return RedirectResponse(f"{AGENCY}/payments?year={year}", status_code=303)
    return RedirectResponse(f"{AGENCY}/payments/{batch_id}", status_code=303)


async def _show_batch(request: Request, staff: StaffAccount, db: DbDep, batch_id: int, **extra: Any) -> Response:
    found = await run_in_threadpool(batch_detail, db, batch_id=batch_id)
    if found is None:
        raise StaffRefused(staff, "未找到该拨付批次。", status_code=404, back_url=f"{AGENCY}/payments")
    batch, rows = found
    flash = request.session.pop(FLASH, None)
    context = {"active": "payments", "batch": batch, "rows": rows, "total": format_fen(batch.total_fen), "error": None, "flash": flash}
    context.update(extra)
    return page(request, staff, "agency/payment.html", context, status_code=400 if context.get("error") else 200)


@router.get("/payments/{batch_id}")
async def payment_batch(request: Request, batch_id: DbId, staff: StaffViewing, db: DbDep) -> Response:
    return await _show_batch(request, staff, db, batch_id)


@router.get("/payments/{batch_id}/export")
async def payment_export(
    batch_id: DbId,
    act: Exporting,
    db: DbDep,
    format: str = "csv",  # noqa: A002
) -> Response:
    if format not in EXPORT_FORMATS:
        raise StaffRefused(act.staff, "导出格式应为 CSV 或 XLSX。", status_code=400, back_url=f"{AGENCY}/payments/{batch_id}")
    export = await run_in_threadpool(export_batch, db, batch_id=batch_id, format=format, **act.audit)
    if export is None:
        raise StaffRefused(act.staff, "未找到该拨付批次。", status_code=404, back_url=f"{AGENCY}/payments")
    return Response(export.content, media_type=export.media_type, headers=_attachment(export.filename))


@router.post("/payments/{batch_id}/paid")
async def payment_paid(
    request: Request,
    batch_id: DbId,
    form: CsrfForm,
    act: Paying,
    session: SessionDep,
    db: DbDep,
) -> Response:
    reference = str(form.get("reference", "")).strip()[:100]
    if form.get("acknowledge") != "yes":
        return await _show_batch(request, act.staff, db, batch_id, error=messages.STAFF_ERROR["paid_confirm"], reference=reference)
    code = await run_in_threadpool(mark_batch_paid, db, batch_id=batch_id, reference=reference, **act.audit)
    if code == "not_found":
        raise StaffRefused(act.staff, "未找到该拨付批次。", status_code=404, back_url=f"{AGENCY}/payments")
    if code:
        return await _show_batch(request, act.staff, db, batch_id, error=messages.STAFF_ERROR[code], reference=reference)
    session[FLASH] = "该批次已标记为已发放，批次内记录状态已更新为“已发放”。"
    return RedirectResponse(f"{AGENCY}/payments/{batch_id}", status_code=303)


# ---- audit -------------------------------------------------------------------


@router.get("/audit")
async def audit(
    request: Request, staff: StaffAuditing, db: DbDep, audit_keys: AuditKeysDep, before: QueryId = None, record: QueryId = None
) -> Response:
    context = await run_in_threadpool(audit_log, db, keys=audit_keys, before=before, record_id=record)
    return page(request, staff, "agency/audit.html", {"active": "audit", **context, "record": record})
