"""The audit log is a hash chain: a silent edit anywhere is found, by the
page and by ``python -m services.refund_portal.audit verify``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import delete, select, update

from devtools.stack import ROOT
from services.refund_portal.audit import verify_chain
from services.refund_portal.models import AuditEntry, AuditHead, RefundRecord
from tests.refund_portal.conftest import ROW_L2, ROW_L3, UNIT_L2, Env, csrf_of


def report(env: Env):
    with env.db.transaction() as s:
        return verify_chain(s)


@pytest.fixture
def logged(env: Env) -> Env:
    env.import_rows([ROW_L2, ROW_L3])
    env.login_unit(UNIT_L2)
    with env.db.transaction() as s:
        rid = s.execute(select(RefundRecord.id).where(RefundRecord.uscc == ROW_L2[0])).scalar_one()
    page = env.client.get(f"/refunds/{rid}/decide", params={"decision": "confirm"})
    env.client.post(f"/refunds/{rid}/decide", data={"csrf_token": csrf_of(page.text), "decision": "confirm", "version": "1", "declaration": "yes"})
    return env


def test_an_untouched_log_verifies(logged: Env) -> None:
    result = report(logged)
    assert result.ok and result.entries == 4  # two records, the import, the confirmation
    with logged.db.transaction() as s:
        seqs = [seq for (seq,) in s.execute(select(AuditEntry.seq).order_by(AuditEntry.seq))]
        assert seqs == [1, 2, 3, 4]
        assert s.get(AuditHead, 1).hash == result.head_hash


def test_an_edited_entry_is_found(logged: Env) -> None:
    with logged.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(actor_name="别人"))
    assert report(logged).problems == [(4, "hash")]


def test_a_recomputed_entry_breaks_the_next_link(logged: Env) -> None:
    from services.refund_portal.audit import entry_hash

    with logged.db.transaction() as s:
        entry = s.get(AuditEntry, 2)
        entry.detail = entry.detail.replace('"line":3', '"line":9')
        entry.hash = entry_hash(entry)
    assert (3, "prev_hash") in report(logged).problems


def test_a_removed_entry_is_found(logged: Env) -> None:
    with logged.db.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    problems = report(logged).problems
    assert (3, "gap") in problems and (3, "prev_hash") in problems


def test_the_last_entry_removed_is_found(logged: Env) -> None:
    with logged.db.transaction() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    problems = report(logged).problems
    assert (4, "head") in problems
    assert any(code.startswith("record_state:") for _, code in problems)  # the record says confirmed, the log does not


def test_a_silent_edit_of_a_record_is_found(logged: Env) -> None:
    with logged.db.transaction() as s:
        s.execute(update(RefundRecord).where(RefundRecord.uscc == ROW_L3[0]).values(bank_account="6222000000000000001"))
    problems = report(logged).problems
    assert len(problems) == 1 and problems[0][1].startswith("record_state:")


def test_the_audit_page_shows_the_log_and_a_broken_chain(logged: Env) -> None:
    logged.login_staff("wg_auditor")
    page = logged.client.get("/agency/audit")
    assert page.status_code == 200 and "哈希链校验通过：共 4 条日志" in page.text
    assert "单位确认，待确认 → 已确认" in page.text and "陈晓" in page.text and "urn:gdzwfw:loa:L2" in page.text
    with logged.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(address="1.2.3.4"))
    broken = logged.client.get("/agency/audit")
    assert "哈希链校验未通过" in broken.text and "日志 1：hash" in broken.text


def test_the_verify_command(logged: Env) -> None:
    env = {"REFUND_DATABASE_URL": logged.settings.database_url, "PATH": "/usr/bin:/bin"}

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "services.refund_portal.audit", "verify"],
            cwd=ROOT, env={**env, "REFUND_ENVIRONMENT": "test", "REFUND_SECRET_KEY": "x" * 40, "REFUND_PUBLIC_URL": "http://p",
                           "REFUND_ISSO_ISSUER": "http://i", "REFUND_ISSO_CLIENT_SECRET": "s", "REFUND_GDZWFW_VERIFICATION_URL": "http://v"},
            capture_output=True, text=True, timeout=60,
        )

    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert "audit log OK: 4 entries" in ok.stdout
    with logged.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(detail="{}"))
    broken = run()
    assert broken.returncode == 1 and "entry 3: hash" in broken.stdout


def test_demo_data_loads_once_and_verifies(env_factory) -> None:
    env = env_factory(environment="development", demo_data=True)
    with env.db.transaction() as s:
        records = s.execute(select(RefundRecord).order_by(RefundRecord.year, RefundRecord.id)).scalars().all()
        assert [(r.year, r.uscc, r.status) for r in records] == [
            (2025, "91440104MA5DL2B24P", "paid"),
            (2026, "91440106MA5DL1A170", "pending"),
            (2026, "91440104MA5DL2B24P", "pending"),
            (2026, "91440105MA5DL3C31T", "pending"),
        ]
        assert verify_chain(s).ok
    # A second start (another worker, a restart) adds nothing.
    from services.refund_portal.demo import load_demo_data

    load_demo_data(env.db, passwords=env.app.state.staff_login.passwords, policies=env.app.state.policies, clock=env.clock)
    with env.db.transaction() as s:
        assert len(s.execute(select(RefundRecord.id)).all()) == 4
    assert env.login_staff("wg_supervisor", "Wg@staff2026").status_code == 303
    env.login_unit(UNIT_L2)
    page = env.client.get("/").text
    assert "2026年度失业保险稳岗返还" in page and "2025年度失业保险稳岗返还" in page and "已发放" in page


def test_no_demo_data_outside_development(env_factory) -> None:
    env = env_factory(environment="test", demo_data=True)
    with env.db.transaction() as s:
        assert s.execute(select(RefundRecord.id)).first() is None
