"""失业保险稳岗返还 pages of the unit: the L2 gate, its 稳岗返还信息确认
(its records, the explicit confirmation step)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.refund_portal import messages
from services.refund_portal.admission import REQUIRED_LEVEL, upgrade_url
from services.refund_portal.decisions import DECISIONS, NOTE_LIMIT, UnitDecision, unit_actor
from services.refund_portal.deps import AdmittedUnit, AdmittedUnitForm, AuditKeysDep, ClientAddress, CurrentUnit, RefundSettingsDep
from services.refund_portal.unit.confirmation import decidable_record, records_with_history, submit_decision
from shared.web.app import render
from shared.web.deps import ClockDep, CsrfForm, DbDep, Refused, SessionDep
from shared.web.params import DbId

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
DONE_TEXT = {
    "confirm": "确认成功：{year} 年度稳岗返还信息已确认，经办机构将按确认的账户发放资金。",
    "decline": "已办理放弃：您单位已放弃 {year} 年度稳岗返还。",
    "report_account": "已提交：经办机构将核实更正您单位的银行账户，更正后请重新确认。",
}


def _known(decision: str) -> str:
    if decision not in DECISIONS:
        raise Refused(messages.DECISION_ERROR["unknown_decision"], status_code=400, back_url="/")
    return decision


def _decision_context(record: dict, decision: str, **extra: Any) -> dict[str, Any]:
    return {"record": record, "decision": decision, "decision_label": messages.DECISION[decision], "note_limit": NOTE_LIMIT, **extra}


@router.get("/")
async def home(request: Request, unit: CurrentUnit, session: SessionDep, db: DbDep, settings: RefundSettingsDep) -> Response:
    if unit is None:
        return render(request, "landing.html", {})
    if not unit.admitted:
        context = {
            "unit": unit.claims,
            "level": unit.level,
            "required": REQUIRED_LEVEL,
            "verification_url": upgrade_url(settings, unit.claims),
            "direct_verification_url": settings.gdzwfw_verification_url,
        }
        return render(request, "level_required.html", context, status_code=403)
    records = await run_in_threadpool(records_with_history, db, unit=unit.identity)
    flash = session.pop("flash", None)
    return render(request, "confirm.html", {"unit": unit.claims, "level": unit.level, "records": records, "flash": flash})


@router.get("/refunds/{record_id}/decide")
async def decide_page(request: Request, record_id: DbId, unit: AdmittedUnit, db: DbDep, decision: str = "confirm") -> Response:
    _known(decision)
    record = await run_in_threadpool(decidable_record, db, unit=unit.identity, record_id=record_id)
    if record is None:
        raise Refused(messages.DECISION_ERROR["not_found"], status_code=404, back_url="/")
    if not record["can_decide"]:
        text = messages.DECISION_ERROR["not_pending"].format(status=record["status_label"])
        raise Refused(text, status_code=409, back_url="/", title="无法办理")
    return render(request, "decide.html", {"unit": unit.claims, **_decision_context(record, decision, note="")})


@router.post("/refunds/{record_id}/decide")
async def decide_submit(
    request: Request,
    record_id: DbId,
    form: CsrfForm,
    unit: AdmittedUnitForm,
    session: SessionDep,
    address: ClientAddress,
    db: DbDep,
    clock: ClockDep,
    audit_keys: AuditKeysDep,
) -> Response:
    decision = _known(str(form.get("decision", "")))
    note = str(form.get("note", ""))
    try:
        version = int(str(form.get("version", "")))
    except ValueError:
        version = -1
    outcome = await run_in_threadpool(
        submit_decision,
        db,
        unit=unit.identity,
        record_id=record_id,
        choice=UnitDecision(decision=decision, note=note, channel="web", unit_sub=str(unit.claims.get("sub") or "")),
        version=version,
        declared=form.get("declaration") == "yes",
        actor=unit_actor(unit.claims, acr=unit.acr, address=address),
        clock=clock,
        audit_keys=audit_keys,
    )
    if outcome.record is None:
        raise Refused(outcome.error or "", status_code=outcome.status, back_url="/")
    if outcome.error is not None:
        if outcome.status == 409:
            raise Refused(outcome.error, status_code=409, back_url="/", title="无法办理")
        context = _decision_context(outcome.record, decision, note=note, error=outcome.error)
        return render(request, "decide.html", {"unit": unit.claims, **context}, status_code=outcome.status)
    session["flash"] = {"kind": "ok", "text": DONE_TEXT[decision].format(year=outcome.record["year"])}
    return RedirectResponse(f"/#record-{record_id}", status_code=303)
