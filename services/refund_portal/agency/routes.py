"""The agency's side (社保经办机构管理端), under ``/agency``: staff login,
the year's list import, records, bank-account correction, payment batches
and their export, the audit log. Every route checks the staff member's role."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from services.refund_portal import messages
from services.refund_portal.agency.imports import TEMPLATE_HEADER, ImportPlan, ImportRefused, apply_plan, prepare
from services.refund_portal.agency.payments import create_batch, export_rows, mark_paid, to_csv, to_xlsx
from services.refund_portal.audit import Actor, AuditChain, count_entries, verify_chain
from services.refund_portal.decisions import DecisionError, correct_bank_account
from services.refund_portal.deps import client_address
from services.refund_portal.models import ImportBatch, ImportUpload, PaymentBatch, RecordStatus, RefundRecord, StaffAccount
from services.refund_portal.records import (
    audit_page,
    get_record,
    history_of,
    list_import_batches,
    list_payment_batches,
    list_records,
    present,
    records_in_batch,
    status_summary,
    years_with_records,
)
from services.refund_portal.staff import may
from shared.clock import as_utc
from shared.money import format_fen
from shared.web.app import error_page, render
from shared.web.csrf import verify_csrf_form
from shared.web.sessions import rotate_session

__all__ = ["agency_router"]

PREFIX = "/agency"
_ACCOUNT_CHARS = set("0123456789")


def _describe(entry) -> str:
    try:
        detail = json.loads(entry.detail)
    except ValueError:
        detail = {}
    return messages.describe_entry(entry.action, detail)


def agency_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def load_staff(request: Request) -> StaffAccount | None:
        info = request.session.get("staff")
        if not info:
            return None
        with request.app.state.db.transaction() as s:
            account = s.get(StaffAccount, info.get("id"))
            if account is None or not account.active:
                return None
            s.expunge(account)
            return account

    async def guard(request: Request, permission: str) -> StaffAccount | Response:
        """The logged-in staff member if their role allows ``permission``."""
        account = await run_in_threadpool(load_staff, request)
        if account is None:
            request.session.pop("staff", None)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)
        if not may(account.role, permission):
            text = messages.STAFF_ERROR["forbidden"].format(role=messages.ROLE.get(account.role, account.role))
            return page_error(request, account, 403, text)
        return account

    def actor_of(account: StaffAccount, request: Request) -> Actor:
        return Actor(kind="staff", id=account.login_name, name=account.display_name, address=client_address(request))

    def page(request: Request, account: StaffAccount, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        nav = [
            ("overview", f"{PREFIX}/", "概览", "view"),
            ("records", f"{PREFIX}/records", "返还记录", "view"),
            ("imports", f"{PREFIX}/imports", "名单导入", "import"),
            ("payments", f"{PREFIX}/payments", "拨付发放", "view"),
            ("audit", f"{PREFIX}/audit", "审计日志", "audit"),
        ]
        return render(
            request,
            template,
            {
                "staff": account,
                "role_label": messages.ROLE.get(account.role, account.role),
                "nav": [(key, href, label) for key, href, label, perm in nav if may(account.role, perm)],
                "may": lambda perm: may(account.role, perm),
                "STATUS": messages.STATUS,
                **context,
            },
            status_code=status_code,
        )

    def page_error(request: Request, account: StaffAccount, status: int, text: str, back: str | None = None) -> Response:
        return page(request, account, "agency/error.html", {"message": text, "back_url": back, "active": ""}, status_code=status)

    def default_year(request: Request, years_with: list[int], year: int | None) -> int:
        policies = request.app.state.policies
        if year is not None:
            return year
        return (years_with or policies.years or [as_utc(request.app.state.clock.now()).year])[0]

    # ---- login -------------------------------------------------------------

    def safe_next(target: str | None) -> str:
        return target if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") else f"{PREFIX}/"

    @router.get("/login")
    async def login_page(request: Request, next: str = "") -> Response:  # noqa: A002
        return render(request, "agency/login.html", {"next": safe_next(next), "login_name": "", "error": None})

    @router.post("/login")
    async def login_submit(request: Request) -> Response:
        form = await verify_csrf_form(request)
        login_name = str(form.get("login_name", ""))[:40]
        password = str(form.get("password", ""))[:128]
        target = safe_next(str(form.get("next", "")))
        state = request.app.state
        service = state.staff_login
        result = await run_in_threadpool(
            service.authenticate, state.db, login_name=login_name, password=password, address=client_address(request)
        )
        if result.account is None:
            text = messages.STAFF_ERROR[result.error or "wrong"].format(left=result.left, minutes=service.lock_minutes)
            return render(request, "agency/login.html", {"next": target, "login_name": login_name, "error": text}, status_code=400)
        account = result.account
        rotate_session(request)
        request.session["staff"] = {"id": account.id, "login_name": account.login_name}
        return RedirectResponse(target, status_code=303)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        await verify_csrf_form(request)
        request.session.pop("staff", None)
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    # ---- overview and records ---------------------------------------------

    @router.get("/")
    async def overview(request: Request, year: int | None = None) -> Response:
        account = await guard(request, "view")
        if isinstance(account, Response):
            return account

        def load():
            with request.app.state.db.transaction() as s:
                years = years_with_records(s)
                chosen = default_year(request, years, year)
                return chosen, sorted(set(years) | set(request.app.state.policies.years), reverse=True), status_summary(s, year=chosen)

        chosen, years, summary = await run_in_threadpool(load)
        cards = [
            {"status": st, "label": messages.STATUS[st], "count": summary.get(st, (0, 0))[0], "amount": format_fen(summary.get(st, (0, 0))[1])}
            for st in RecordStatus.ALL
        ]
        total_count = sum(c for c, _ in summary.values())
        return page(request, account, "agency/overview.html", {"active": "overview", "year": chosen, "years": years, "cards": cards, "total": total_count})

    @router.get("/records")
    async def records(request: Request, year: int | None = None, status: str = "", q: str = "", page_no: int = 1) -> Response:
        account = await guard(request, "view")
        if isinstance(account, Response):
            return account
        page_no = max(page_no, 1)

        def load():
            with request.app.state.db.transaction() as s:
                years = years_with_records(s)
                chosen = default_year(request, years, year)
                rows, total = list_records(s, year=chosen, status=status or None, query=q.strip()[:50], limit=100, offset=(page_no - 1) * 100)
                return chosen, years, [present(r) for r in rows], total

        chosen, years, rows, total = await run_in_threadpool(load)
        return page(
            request,
            account,
            "agency/records.html",
            {"active": "records", "year": chosen, "years": years, "rows": rows, "total": total, "status": status, "q": q, "page_no": page_no},
        )

    @router.get("/records/{record_id}")
    async def record_detail(request: Request, record_id: int) -> Response:
        account = await guard(request, "view")
        if isinstance(account, Response):
            return account
        return await show_record(request, account, record_id)

    async def show_record(request: Request, account: StaffAccount, record_id: int, **extra: Any) -> Response:
        def load():
            with request.app.state.db.transaction() as s:
                r = get_record(s, record_id=record_id)
                if r is None:
                    return None
                view = present(r)
                # Staff see the full account: they pay into it and correct it.
                view["bank_account"] = r.bank_account
                view["decided_address"] = r.decided_address
                view["decided_channel"] = r.decided_channel
                view["payment_batch_id"] = r.payment_batch_id
                view["import_batch_id"] = r.import_batch_id
                view["line_no"] = r.line_no
                history = [
                    {"seq": e.seq, "at": e.at, "what": _describe(e), "who": e.actor_name, "kind": e.actor_kind, "acr": e.acr, "address": e.address}
                    for e in history_of(s, record_id=record_id)
                ]
                return view, history

        found = await run_in_threadpool(load)
        if found is None:
            return page_error(request, account, 404, "未找到该返还记录。", back=f"{PREFIX}/records")
        view, history = found
        context = {"active": "records", "r": view, "history": history, "error": None, "form": {}, **extra}
        return page(request, account, "agency/record.html", context, status_code=400 if context.get("error") else 200)

    @router.post("/records/{record_id}/bank-account")
    async def correct_account(request: Request, record_id: int) -> Response:
        form = await verify_csrf_form(request)
        account = await guard(request, "correct")
        if isinstance(account, Response):
            return account
        bank_name = str(form.get("bank_name", "")).strip()
        bank_account = "".join(str(form.get("bank_account", "")).split()).replace("-", "")
        reason = str(form.get("reason", "")).strip()
        values = {"bank_name": bank_name, "bank_account": bank_account, "reason": reason}
        if not bank_name or len(bank_name) > 100:
            return await show_record(request, account, record_id, error=messages.IMPORT["bank_name"], form=values)
        if not (8 <= len(bank_account) <= 30 and set(bank_account) <= _ACCOUNT_CHARS):
            return await show_record(request, account, record_id, error=messages.IMPORT["bank_account"], form=values)
        state = request.app.state

        def run() -> str | None:
            with state.db.transaction() as s:
                try:
                    correct_bank_account(
                        s, record_id=record_id, bank_name=bank_name, bank_account=bank_account, reason=reason,
                        actor=actor_of(account, request), clock=state.clock, audit_keys=state.audit_keys,
                    )
                except DecisionError as exc:
                    return messages.STAFF_ERROR.get(exc.code, messages.DECISION_ERROR.get(exc.code, exc.code)).format(
                        status=messages.STATUS.get(exc.status or "", "")
                    )
            return None

        error = await run_in_threadpool(run)
        if error:
            return await show_record(request, account, record_id, error=error, form=values)
        request.session["agency_flash"] = "银行账户已更正，记录已恢复为“待确认”，请通知单位重新确认。"
        return RedirectResponse(f"{PREFIX}/records/{record_id}", status_code=303)

    # ---- imports -----------------------------------------------------------

    def import_context(request: Request, **extra: Any) -> dict[str, Any]:
        state = request.app.state
        with state.db.transaction() as s:
            batches = list_import_batches(s)
            for b in batches:
                s.expunge(b)
        return {
            "active": "imports",
            "years": state.policies.years,
            "batches": batches,
            "max_mb": state.settings.import_max_bytes // (1024 * 1024),
            "columns": TEMPLATE_HEADER,
            **extra,
        }

    @router.get("/imports")
    async def imports_page(request: Request) -> Response:
        account = await guard(request, "import")
        if isinstance(account, Response):
            return account
        context = await run_in_threadpool(import_context, request)
        context["flash"] = request.session.pop("agency_flash", None)
        return page(request, account, "agency/imports.html", context)

    @router.get("/imports/template.csv")
    async def import_template(request: Request) -> Response:
        account = await guard(request, "import")
        if isinstance(account, Response):
            return account
        content = ("\ufeff" + ",".join(TEMPLATE_HEADER) + "\r\n").encode("utf-8")
        return Response(content, media_type="text/csv; charset=utf-8", headers=_attachment("稳岗返还名单模板.csv"))

    @router.post("/imports")
    async def import_submit(request: Request) -> Response:
        state = request.app.state
        limit = state.settings.import_max_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + 64 * 1024:
            return error_page(request, 413, messages.IMPORT["file_too_large"].format(limit=f"{limit // (1024 * 1024)} MB"), back_url=f"{PREFIX}/imports")
        form = await request.form(max_files=1, max_fields=10)
        try:
            await verify_csrf_form(request)  # the same parsed form
            upload = form.get("file")
            content = await upload.read(limit + 1) if isinstance(upload, UploadFile) and upload.filename else b""
        finally:
            await form.close()  # the spooled upload
        account = await guard(request, "import")
        if isinstance(account, Response):
            return account
        try:
            year = int(str(form.get("year", "")))
        except ValueError:
            year = 0
        if not content:
            return await import_failed(request, account, messages.IMPORT["file_empty"])
        if len(content) > limit:
            return await import_failed(request, account, messages.IMPORT["file_too_large"].format(limit=f"{limit // (1024 * 1024)} MB"))
        filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
        if year not in state.policies.years:
            return await import_failed(request, account, messages.IMPORT["no_policy"].format(year=year) if year else messages.IMPORT["year"])
        return await run_import(request, account, year=year, filename=filename, content=content, mode="all")

    @router.post("/imports/{upload_id}/good-rows")
    async def import_good_rows(request: Request, upload_id: str) -> Response:
        form = await verify_csrf_form(request)
        account = await guard(request, "import")
        if isinstance(account, Response):
            return account
        state = request.app.state

        def fetch() -> ImportUpload | None:
            with state.db.transaction() as s:
                found = s.get(ImportUpload, upload_id[:64])
                if found is None or found.staff_id != account.id or as_utc(found.expires_at) <= state.clock.now():
                    return None
                s.expunge(found)
                return found

        upload = await run_in_threadpool(fetch)
        if upload is None:
            return await import_failed(request, account, "该文件的校验结果已过期，请重新选择文件导入。")
        if form.get("acknowledge") != "yes":
            return await run_import(
                request, account, year=upload.year, filename=upload.filename, content=upload.content, mode="all", upload_id=upload.id,
                notice="请勾选“我已核对错误行，确认仅导入无误的行”后再导入。",
            )
        return await run_import(request, account, year=upload.year, filename=upload.filename, content=upload.content, mode="good_only", upload_id=upload.id)

    async def import_failed(request: Request, account: StaffAccount, text: str) -> Response:
        context = await run_in_threadpool(import_context, request, file_error=text)
        return page(request, account, "agency/imports.html", context, status_code=400)

    async def run_import(
        request: Request, account: StaffAccount, *, year: int, filename: str, content: bytes, mode: str,
        upload_id: str | None = None, notice: str | None = None,
    ) -> Response:
        state = request.app.state
        actor = actor_of(account, request)

        def run() -> tuple[str, Any]:
            """→ ("refused", text) | ("errors", (plan, upload_id)) | ("done", outcome-dict)"""
            with state.db.transaction() as s:
                try:
                    plan = prepare(
                        s, policies=state.policies, year=year, filename=filename, content=content, max_rows=state.settings.import_max_rows
                    )
                except ImportRefused as exc:
                    return "refused", exc.message
                if plan.errors and mode == "all":
                    kept = upload_id or _keep_upload(s, state, account, plan, content)
                    return "errors", (plan, kept)
                outcome = apply_plan(s, plan, mode=mode, actor=actor, staff_id=account.id, clock=state.clock, audit_keys=state.audit_keys)
                if upload_id:
                    s.execute(delete(ImportUpload).where(ImportUpload.id == upload_id))
                return "done", {
                    "batch_id": outcome.batch.id if outcome.batch else None,
                    "imported": outcome.imported,
                    "unchanged": outcome.unchanged,
                    "rejected": outcome.rejected,
                }

        try:
            kind, value = await run_in_threadpool(run)
        except IntegrityError:
            return await import_failed(request, account, "另一项导入正在写入相同单位的记录，请稍后重新导入。")
        if kind == "refused":
            return await import_failed(request, account, value)
        if kind == "errors":
            plan, kept = value
            context = await run_in_threadpool(import_context, request, plan=_plan_view(plan), upload_id=kept, notice=notice)
            return page(request, account, "agency/import_result.html", context, status_code=400)
        if value["batch_id"] is None:
            request.session["agency_flash"] = (
                f"文件“{filename}”中的 {value['unchanged']} 行均已在此前导入，内容一致，本次未作任何更改。"
                + (f"（另有 {value['rejected']} 行有错误，未导入）" if value["rejected"] else "")
            )
            return RedirectResponse(f"{PREFIX}/imports", status_code=303)
        return RedirectResponse(f"{PREFIX}/imports/{value['batch_id']}", status_code=303)

    def _keep_upload(s, state, account: StaffAccount, plan: ImportPlan, content: bytes) -> str:
        now = state.clock.now()
        s.execute(delete(ImportUpload).where(ImportUpload.expires_at <= now))
        upload_id = state.tokens.token(24)
        s.add(
            ImportUpload(
                id=upload_id, staff_id=account.id, year=plan.year, filename=plan.filename, content=content,
                file_sha256=plan.file_sha256, expires_at=now + dt.timedelta(seconds=state.settings.import_upload_seconds),
            )
        )
        return upload_id

    def _plan_view(plan: ImportPlan) -> dict[str, Any]:
        return {
            "year": plan.year,
            "filename": plan.filename,
            "total": plan.total_rows,
            "new": len(plan.new),
            "unchanged": len(plan.unchanged),
            "error_lines": plan.error_lines,
            "errors": plan.errors[:1000],
            "more_errors": max(len(plan.errors) - 1000, 0),
        }

    @router.get("/imports/{batch_id}")
    async def import_batch(request: Request, batch_id: int) -> Response:
        account = await guard(request, "view")
        if isinstance(account, Response):
            return account

        def load():
            with request.app.state.db.transaction() as s:
                batch = s.get(ImportBatch, batch_id)
                if batch is None:
                    return None
                s.expunge(batch)
                rows = s.execute(select(RefundRecord).where(RefundRecord.import_batch_id == batch_id).order_by(RefundRecord.line_no)).scalars()
                return batch, [present(r) | {"line_no": r.line_no} for r in rows]

        found = await run_in_threadpool(load)
        if found is None:
            return page_error(request, account, 404, "未找到该导入批次。", back=f"{PREFIX}/imports")
        batch, rows = found
        total = sum(r["amount_fen"] for r in rows)
        return page(request, account, "agency/import_batch.html", {"active": "imports", "batch": batch, "rows": rows, "total": format_fen(total)})

    # ---- payments ----------------------------------------------------------

    @router.get("/payments")
    async def payments(request: Request, year: int | None = None) -> Response:
        account = await guard(request, "view")
        if isinstance(account, Response):
            return account

        def load():
            with request.app.state.db.transaction() as s:
                years = years_with_records(s)
                chosen = default_year(request, years, year)
                batches = list_payment_batches(s)
                waiting, _ = list_records(s, year=chosen, status=RecordStatus.CONFIRMED, limit=10000)
                waiting = [r for r in waiting if r.payment_batch_id is None]
                return chosen, years, batches, len(waiting), sum(r.amount_fen for r in waiting)

        chosen, years, batches, waiting, waiting_total = await run_in_threadpool(load)
        return page(
            request,
            account,
            "agency/payments.html",
            {
                "active": "payments", "year": chosen, "years": years, "batches": batches, "waiting": waiting,
                "waiting_total": format_fen(waiting_total), "flash": request.session.pop("agency_flash", None), "error": None,
            },
        )

    @router.post("/payments")
    async def payments_create(request: Request) -> Response:
        form = await verify_csrf_form(request)
        account = await guard(request, "export")
        if isinstance(account, Response):
            return account
        state = request.app.state
        try:
            year = int(str(form.get("year", "")))
        except ValueError:
            return error_page(request, 400, messages.IMPORT["year"], back_url=f"{PREFIX}/payments")

        def run() -> int | str:
            with state.db.transaction() as s:
                try:
                    return create_batch(s, year=year, actor=actor_of(account, request), clock=state.clock, audit_keys=state.audit_keys).id
                except DecisionError as exc:
                    return messages.STAFF_ERROR[exc.code].format(year=year)

        result = await run_in_threadpool(run)
        if isinstance(result, str):
            request.session["agency_flash"] = result
            return RedirectResponse(f"{PREFIX}/payments?year={year}", status_code=303)
        return RedirectResponse(f"{PREFIX}/payments/{result}", status_code=303)

    async def show_batch(request: Request, account: StaffAccount, batch_id: int, **extra: Any) -> Response:
        def load():
            with request.app.state.db.transaction() as s:
                batch = s.get(PaymentBatch, batch_id)
                if batch is None:
                    return None
                s.expunge(batch)
                return batch, [present(r) for r in records_in_batch(s, batch_id=batch_id)]

        found = await run_in_threadpool(load)
        if found is None:
            return page_error(request, account, 404, "未找到该拨付批次。", back=f"{PREFIX}/payments")
        batch, rows = found
        context = {"active": "payments", "batch": batch, "rows": rows, "total": format_fen(batch.total_fen), "error": None,
                   "flash": request.session.pop("agency_flash", None), **extra}
        return page(request, account, "agency/payment.html", context, status_code=400 if context.get("error") else 200)

    @router.get("/payments/{batch_id}")
    async def payment_batch(request: Request, batch_id: int) -> Response:
        account = await guard(request, "view")
        if isinstance(account, Response):
            return account
        return await show_batch(request, account, batch_id)

    @router.get("/payments/{batch_id}/export")
    async def payment_export(request: Request, batch_id: int, format: str = "csv") -> Response:  # noqa: A002
        account = await guard(request, "export")
        if isinstance(account, Response):
            return account
        if format not in ("csv", "xlsx"):
            return page_error(request, account, 400, "导出格式应为 CSV 或 XLSX。", back=f"{PREFIX}/payments/{batch_id}")
        state = request.app.state

        def run():
            with state.db.transaction() as s:
                batch = s.get(PaymentBatch, batch_id)
                if batch is None:
                    return None
                rows = export_rows(records_in_batch(s, batch_id=batch_id), batch_id=batch_id)
                # Bank details leave the system: who took them, and when, is logged.
                AuditChain(s, clock=state.clock, keys=state.audit_keys).append(
                    actor_of(account, request), "payment.exported", subject=f"payment:{batch_id}", detail={"format": format, "count": len(rows)}
                )
                return batch.year, rows

        found = await run_in_threadpool(run)
        if found is None:
            return page_error(request, account, 404, "未找到该拨付批次。", back=f"{PREFIX}/payments")
        year, rows = found
        name = f"稳岗返还拨付清单-{year}年度-批次{batch_id}"
        if format == "csv":
            return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers=_attachment(f"{name}.csv"))
        content = await run_in_threadpool(to_xlsx, rows, title=f"{year}年度批次{batch_id}", generated_at=state.clock.now())
        return Response(
            content,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers=_attachment(f"{name}.xlsx"),
        )

    @router.post("/payments/{batch_id}/paid")
    async def payment_paid(request: Request, batch_id: int) -> Response:
        form = await verify_csrf_form(request)
        account = await guard(request, "pay")
        if isinstance(account, Response):
            return account
        reference = str(form.get("reference", "")).strip()[:100]
        if form.get("acknowledge") != "yes":
            return await show_batch(request, account, batch_id, error=messages.STAFF_ERROR["paid_confirm"], reference=reference)
        state = request.app.state

        def run() -> str | None:
            with state.db.transaction() as s:
                try:
                    mark_paid(s, batch_id=batch_id, reference=reference, actor=actor_of(account, request), clock=state.clock, audit_keys=state.audit_keys)
                except DecisionError as exc:
                    return exc.code
            return None

        code = await run_in_threadpool(run)
        if code == "not_found":
            return page_error(request, account, 404, "未找到该拨付批次。", back=f"{PREFIX}/payments")
        if code:
            return await show_batch(request, account, batch_id, error=messages.STAFF_ERROR[code], reference=reference)
        request.session["agency_flash"] = "该批次已标记为已发放，批次内记录状态已更新为“已发放”。"
        return RedirectResponse(f"{PREFIX}/payments/{batch_id}", status_code=303)

    # ---- audit -------------------------------------------------------------

    @router.get("/audit")
    async def audit(request: Request, before: int | None = None, record: int | None = None) -> Response:
        account = await guard(request, "audit")
        if isinstance(account, Response):
            return account

        def load():
            with request.app.state.db.transaction() as s:
                entries = [
                    {
                        "seq": e.seq, "at": e.at, "kind": e.actor_kind, "who": e.actor_name, "actor_id": e.actor_id, "acr": e.acr,
                        "address": e.address, "what": _describe(e), "record_id": e.record_id, "subject": e.subject, "hash": e.hash, "key_id": e.key_id,
                    }
                    for e in audit_page(s, before=before, record_id=record)
                ]
                total = count_entries(s)
            with request.app.state.db.transaction() as s:
                report = verify_chain(s, request.app.state.audit_keys)
            return entries, total, report

        entries, total, report = await run_in_threadpool(load)
        older = entries[-1]["seq"] if entries and entries[-1]["seq"] > 1 else None
        return page(
            request,
            account,
            "agency/audit.html",
            {"active": "audit", "entries": entries, "total": total, "report": report, "older": older, "record": record},
        )

    return router


def _attachment(filename: str) -> dict[str, str]:
    # RFC 6266 / 5987: an ASCII fallback and the UTF-8 name.
    return {"Content-Disposition": f"attachment; filename=\"export.{filename.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(filename)}"}

