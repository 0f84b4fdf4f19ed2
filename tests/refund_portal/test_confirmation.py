"""稳岗返还信息确认: the unit sees its own record and decides on it once,
behind an explicit confirmation step, and the decision records who, at which
level, when and from where."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select

from services.refund_portal.audit import Actor, verify_chain
from services.refund_portal.decisions import DecisionError, UnitDecision, decide
from services.refund_portal.models import AuditEntry, RefundRecord
from services.refund_portal.records import UnitIdentity
from tests.refund_portal.conftest import HANDLER, L1, L3, ROW_L1, ROW_L2, ROW_L3, UNIT_L1, UNIT_L2, UNIT_L3, Env, csrf_of


def record_id(env: Env, uscc: str) -> int:
    with env.db.transaction() as s:
        return s.execute(select(RefundRecord.id).where(RefundRecord.uscc == uscc)).scalar_one()


def load(env: Env, rid: int) -> RefundRecord:
    with env.db.transaction() as s:
        record = s.get(RefundRecord, rid)
        s.expunge(record)
        return record


def audit_count(env: Env) -> int:
    with env.db.transaction() as s:
        return len(s.execute(select(AuditEntry.seq)).all())


def open_step(env: Env, rid: int, decision: str):
    return env.client.get(f"/refunds/{rid}/decide", params={"decision": decision})


def submit(
    env: Env, rid: int, decision: str, *, note: str = "", declaration: bool = True, version: int | None = None, csrf: str | None = None
):
    page = open_step(env, rid, decision)
    data = {
        "csrf_token": csrf if csrf is not None else csrf_of(page.text),
        "decision": decision,
        "note": note,
        "version": str(version if version is not None else re.search(r'name="version" value="(\d+)"', page.text).group(1)),
    }
    if declaration:
        data["declaration"] = "yes"
    return env.client.post(f"/refunds/{rid}/decide", data=data, follow_redirects=False)


def test_the_unit_sees_its_record_with_amount_in_figures_and_words_basis_and_masked_account(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3])
    env.login_unit(UNIT_L2)
    page = env.client.get("/")
    assert page.status_code == 200
    html = page.text
    # 57,624.48 × 60% = 34,574.688 → 34,574.69
    assert "¥34,574.69" in html
    assert "人民币叁万肆仟伍佰柒拾肆元陆角玖分" in html
    assert "57,624.48 × 60% = 34,574.69 元" in html
    assert "中小微企业" in html and "4.17%" in html
    assert "3602***********3456" in html and "3602000109200123456" not in html
    assert "待确认" in html
    # Only its own record: the other unit's name and amount are not on the page.
    assert "广州市荔湾区示范制造有限公司" not in html and "181,440.00" not in html
    assert html.count('class="panel refund"') == 1


def test_a_unit_without_records_is_told_so(env: Env) -> None:
    env.import_rows([ROW_L3])
    env.login_unit(UNIT_L2)
    page = env.client.get("/")
    assert page.status_code == 200 and 'id="no-records"' in page.text and "暂无您单位的稳岗返还记录" in page.text


def test_confirming_goes_through_an_explicit_step_and_records_who_level_when_where(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2, acr=L3)
    step = open_step(env, rid, "confirm")
    assert step.status_code == 200
    assert "确认后不可更改" in step.text and 'name="declaration"' in step.text
    assert load(env, rid).status == "pending"  # opening the step changes nothing

    response = submit(env, rid, "confirm", note="核对无误")
    assert response.status_code == 303 and response.headers["location"] == f"/#record-{rid}"
    record = load(env, rid)
    assert record.status == "confirmed"
    assert record.decided_by_sub == HANDLER["sub"] and record.decided_by_name == HANDLER["name"]
    assert record.decided_acr == L3
    assert record.decided_address == "testclient"
    assert record.decided_channel == "web"
    assert record.decided_at is not None and record.decided_at.replace(tzinfo=None) == env.clock.now().replace(tzinfo=None)
    page = env.client.get("/")
    assert "确认成功" in page.text and "已确认" in page.text and "陈晓" in page.text
    assert "2026-11-28 09:00（北京时间）" in page.text  # stored UTC 01:00, shown in Beijing time
    with env.db.transaction() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.record_id == rid, AuditEntry.action == "record.confirmed")).scalar_one()
        assert entry.actor_id == HANDLER["sub"] and entry.acr == L3 and entry.address == "testclient"
        assert verify_chain(s, env.audit_keys).ok


def test_a_record_is_confirmed_once(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    page = open_step(env, rid, "confirm")
    token = csrf_of(page.text)
    assert submit(env, rid, "confirm").status_code == 303
    entries = audit_count(env)
    # The same form sent again, and a decline afterwards, are both refused.
    again = env.client.post(
        f"/refunds/{rid}/decide", data={"csrf_token": token, "decision": "confirm", "version": "1", "declaration": "yes"}
    )
    assert again.status_code == 409 and "每条记录只能确认一次" in again.text
    assert env.client.get(f"/refunds/{rid}/decide", params={"decision": "decline"}).status_code == 409
    assert load(env, rid).status == "confirmed" and audit_count(env) == entries


def test_twenty_simultaneous_confirmations_exactly_one_succeeds(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    unit = UnitIdentity(uscc=UNIT_L2["uscc"], unit_code=UNIT_L2["unit_code"])
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        actor = Actor(kind="unit", id=f"handler-{n}", name=f"经办人{n}", acr="urn:gdzwfw:loa:L2", address="127.0.0.1")
        barrier.wait()
        try:
            with env.db.transaction() as s:
                decide(
                    s,
                    unit=unit,
                    record_id=rid,
                    choice=UnitDecision("confirm", "", "web"),
                    actor=actor,
                    clock=env.clock,
                    audit_keys=env.audit_keys,
                )
            result = "ok"
        except DecisionError as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("not_pending") == 19, outcomes
    with env.db.transaction() as s:
        confirmations = s.execute(select(AuditEntry).where(AuditEntry.action == "record.confirmed")).scalars().all()
        assert len(confirmations) == 1
        assert verify_chain(s, env.audit_keys).ok
    assert load(env, rid).decided_by_sub == confirmations[0].actor_id


def test_declining_needs_a_reason_and_the_declaration(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    before = audit_count(env)
    no_reason = submit(env, rid, "decline", note="  ")
    assert no_reason.status_code == 400 and "请填写说明" in no_reason.text
    no_tick = submit(env, rid, "decline", note="本单位不申请", declaration=False)
    assert no_tick.status_code == 400 and "请勾选确认声明" in no_tick.text
    too_long = submit(env, rid, "decline", note="长" * 201)
    assert too_long.status_code == 400 and "不超过200字" in too_long.text
    assert load(env, rid).status == "pending" and audit_count(env) == before

    assert submit(env, rid, "decline", note="本单位已享受其他补贴，自愿放弃").status_code == 303
    record = load(env, rid)
    assert record.status == "declined" and record.decision_note == "本单位已享受其他补贴，自愿放弃"
    page = env.client.get("/")
    assert "已放弃" in page.text and "放弃时间" in page.text


def test_reporting_the_account_wrong_waits_for_the_agency_then_the_unit_confirms(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    assert submit(env, rid, "report_account", note="账号已变更为工行越秀支行 3602000109200999999").status_code == 303
    assert load(env, rid).status == "account_reported"
    page = env.client.get("/")
    assert "账户待核实" in page.text and f'id="confirm-{rid}"' not in page.text
    assert open_step(env, rid, "confirm").status_code == 409

    # The agency corrects the account; the record is 待确认 again with the new account.
    assert env.login_staff("wg_clerk").status_code == 303
    detail = env.client.get(f"/agency/records/{rid}")
    assert "账号已变更" in detail.text
    corrected = env.client.post(
        f"/agency/records/{rid}/bank-account",
        data={
            "csrf_token": csrf_of(detail.text),
            "bank_name": "中国工商银行广州越秀支行",
            "bank_account": "3602 0001 0920 0999 999",
            "reason": "单位提供开户许可证",
        },
        follow_redirects=False,
    )
    assert corrected.status_code == 303
    record = load(env, rid)
    assert record.status == "pending" and record.bank_account == "3602000109200999999" and record.version == 3
    page = env.client.get("/")
    assert "3602***********9999" in page.text
    assert submit(env, rid, "confirm").status_code == 303
    assert load(env, rid).status == "confirmed"


def test_a_confirmation_step_opened_before_the_agency_changed_the_record_is_refused(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    page = open_step(env, rid, "confirm")
    with env.db.transaction() as s:
        from services.refund_portal.decisions import correct_bank_account

        correct_bank_account(
            s,
            record_id=rid,
            bank_name="中国银行",
            bank_account="123456789012",
            reason="更正",
            actor=Actor(kind="staff", id="wg_clerk", name="张敏"),
            clock=env.clock,
            audit_keys=env.audit_keys,
        )
    stale = env.client.post(
        f"/refunds/{rid}/decide", data={"csrf_token": csrf_of(page.text), "decision": "confirm", "version": "1", "declaration": "yes"}
    )
    assert stale.status_code == 409 and "记录已被更新" in stale.text
    assert load(env, rid).status == "pending"


def test_another_units_record_is_not_found_and_unchanged(env: Env) -> None:
    env.import_rows([ROW_L2, ROW_L3])
    other = record_id(env, ROW_L3[0])
    env.login_unit(UNIT_L2)
    assert open_step(env, other, "confirm").status_code == 404
    forged = env.client.post(
        f"/refunds/{other}/decide", data={"csrf_token": env.csrf(), "decision": "confirm", "version": "1", "declaration": "yes"}
    )
    assert forged.status_code == 404
    assert load(env, other).status == "pending"


def test_a_unit_whose_management_code_differs_does_not_see_the_record(env: Env) -> None:
    env.import_rows([ROW_L2])
    env.login_unit({**UNIT_L2, "unit_code": "44019900009"})
    assert 'id="no-records"' in env.client.get("/").text


def test_an_l1_unit_can_neither_see_nor_confirm(env: Env) -> None:
    env.import_rows([ROW_L1])
    rid = record_id(env, ROW_L1[0])
    env.login_unit(UNIT_L1, acr=L1)
    page = env.client.get("/")
    assert page.status_code == 403 and "12,480.00" not in page.text and "可信等级不足" in page.text
    assert env.client.get(f"/refunds/{rid}/decide", follow_redirects=False).status_code == 303
    forged = env.client.post(
        f"/refunds/{rid}/decide", data={"csrf_token": env.csrf(), "decision": "confirm", "version": "1", "declaration": "yes"}
    )
    assert forged.status_code == 403
    assert load(env, rid).status == "pending"


def test_a_decision_without_the_forms_csrf_token_is_refused(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    response = submit(env, rid, "confirm", csrf="forged")
    assert response.status_code == 400 and "页面已过期" in response.text
    assert load(env, rid).status == "pending"


def test_an_ineligible_record_explains_why_and_offers_no_decision(env: Env) -> None:
    arrears = ROW_L2[:8] + ["1200.50"] + ROW_L2[9:]
    env.import_rows([arrears])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    page = env.client.get("/").text
    assert "不符合条件" in page and "存在欠缴失业保险费" in page and "¥0.00" in page and "人民币零元整" in page
    assert f'id="confirm-{rid}"' not in page
    assert open_step(env, rid, "confirm").status_code == 409


@pytest.mark.parametrize("decision", ["confirm", "decline", "report_account"])
def test_each_decision_has_its_own_confirmation_page(env: Env, decision: str) -> None:
    env.import_rows([ROW_L2])
    env.login_unit(UNIT_L2)
    step = open_step(env, record_id(env, ROW_L2[0]), decision)
    assert step.status_code == 200
    expected = {"confirm": "确认后不可更改", "decline": "放弃后不可撤销", "report_account": "更正前本记录暂不能确认"}[decision]
    assert expected in step.text and "人民币叁万肆仟伍佰柒拾肆元陆角玖分" in step.text


def test_the_record_history_shows_each_change(env: Env) -> None:
    env.import_rows([ROW_L2])
    rid = record_id(env, ROW_L2[0])
    env.login_unit(UNIT_L2)
    submit(env, rid, "confirm")
    page = env.client.get("/").text
    assert "办理记录（2）" in page
    assert "导入记录" in page and "单位确认，待确认 → 已确认" in page
    _ = UNIT_L3  # another unit's records never appear in this history
