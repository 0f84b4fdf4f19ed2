"""The audit log is a chain of HMAC-SHA256 entries: a silent edit anywhere,
and a chain recomputed without the key, are found by the page and by
``python -m services.refund_portal.audit verify``; keys rotate; entries from
before the keys verify only up to the head the operator pinned."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import sys

import pytest
from alembic import command
from pydantic import SecretStr, ValidationError
from sqlalchemy import create_engine, delete, insert, select, update

from devtools.stack import ROOT
from services.refund_portal.audit import GENESIS, AuditKeys, legacy_hash, verify_chain
from services.refund_portal.models import AuditEntry, AuditHead, RefundRecord
from services.refund_portal.settings import RefundSettings
from shared.db import Database
from shared.migrations import alembic_config
from tests.refund_portal.conftest import AUDIT_KEYS, ROW_L1, ROW_L2, ROW_L3, UNIT_L2, Env, csrf_of

OTHER_KEY = {"t2": "second-audit-key-second-audit-key-0123456789"}


def report(env: Env, keys: AuditKeys | None = None):
    with env.db.transaction() as s:
        return verify_chain(s, keys or env.audit_keys)


def rewrite_chain(env: Env, sign) -> None:
    """What someone with write access to the database does to make edits
    look consistent: every entry re-hashed in order (``sign`` sets key_id
    and hash), the head moved along."""
    with env.db.transaction() as s:
        prev = GENESIS
        for entry in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars():
            entry.prev_hash = prev
            sign(entry)
            prev = entry.hash
            s.flush()
        head = s.get(AuditHead, 1)
        head.hash = prev


def sha256_unkeyed(entry: AuditEntry) -> None:
    entry.key_id = None
    entry.hash = legacy_hash(entry)


def sha256_keeping_key_ids(entry: AuditEntry) -> None:
    entry.hash = hashlib.sha256(json.dumps([entry.seq, entry.detail, entry.prev_hash, entry.key_id]).encode()).hexdigest()


def verify_command(env: Env, **extra: str) -> subprocess.CompletedProcess:
    variables = {
        "REFUND_DATABASE_URL": env.settings.database_url,
        "PATH": "/usr/bin:/bin",
        "REFUND_ENVIRONMENT": "test",
        "REFUND_SECRET_KEY": "x" * 40,
        "REFUND_PUBLIC_URL": "http://p",
        "REFUND_ISSO_ISSUER": "http://i",
        "REFUND_ISSO_CLIENT_SECRET": "s",
        "REFUND_GDZWFW_VERIFICATION_URL": "http://v",
        "REFUND_AUDIT_KEYS": json.dumps(AUDIT_KEYS),
    }
    return subprocess.run(
        [sys.executable, "-m", "services.refund_portal.audit", "verify"],
        cwd=ROOT,
        env={**variables, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def logged(env: Env) -> Env:
    env.import_rows([ROW_L2, ROW_L3])
    env.login_unit(UNIT_L2)
    with env.db.transaction() as s:
        rid = s.execute(select(RefundRecord.id).where(RefundRecord.uscc == ROW_L2[0])).scalar_one()
    page = env.client.get(f"/refunds/{rid}/decide", params={"decision": "confirm"})
    env.client.post(
        f"/refunds/{rid}/decide", data={"csrf_token": csrf_of(page.text), "decision": "confirm", "version": "1", "declaration": "yes"}
    )
    return env


def test_an_untouched_log_verifies(logged: Env) -> None:
    result = report(logged)
    assert result.ok and result.entries == 4 and result.legacy == 0  # two records, the import, the confirmation
    with logged.db.transaction() as s:
        entries = s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        assert [e.seq for e in entries] == [1, 2, 3, 4]
        assert {e.key_id for e in entries} == {"t1"}
        assert all(e.hash != legacy_hash(e) for e in entries)  # keyed, not the plain SHA-256 of before
        assert s.get(AuditHead, 1).hash == result.head_hash


def test_the_same_log_does_not_verify_under_another_key(logged: Env) -> None:
    # Same key id, other secret: nothing verifies, so the secret is really in every hash.
    impostor = AuditKeys.configured({"t1": SecretStr(OTHER_KEY["t2"])})
    assert report(logged, impostor).problems == [(seq, "hash") for seq in (1, 2, 3, 4)]


def test_an_edited_entry_is_found(logged: Env) -> None:
    with logged.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(actor_name="别人"))
    assert report(logged).problems == [(4, "hash")]


def test_a_recomputed_entry_breaks_the_next_link(logged: Env) -> None:
    with logged.db.transaction() as s:
        entry = s.get(AuditEntry, 2)
        entry.detail = entry.detail.replace('"line":3', '"line":9')
        entry.hash = logged.audit_keys.mac(entry)  # even with the key
    assert (3, "prev_hash") in report(logged).problems


@pytest.mark.parametrize(
    ("sign", "code"),
    [(sha256_unkeyed, "unkeyed"), (sha256_keeping_key_ids, "hash")],
    ids=["plain SHA-256 as before the keys", "any hash under the old key ids"],
)
def test_a_chain_recomputed_without_the_key_is_found(logged: Env, sign, code: str) -> None:
    with logged.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(detail=AuditEntry.detail + " "))
    rewrite_chain(logged, sign)
    # Consistent as a chain (no gap, link or head problem), and still every entry is refused.
    assert report(logged).problems == [(seq, code) for seq in (1, 2, 3, 4)]
    broken = verify_command(logged)
    assert broken.returncode == 1, broken.stderr
    assert "audit log BROKEN: 4 problem(s) in 4 entries" in broken.stdout
    assert all(f"entry {seq}: {code}" in broken.stdout for seq in (1, 2, 3, 4))
    assert ("REFUND_AUDIT_LEGACY_HEAD=<seq>:<hash>" in broken.stdout) == (code == "unkeyed")


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
        rid = s.execute(select(RefundRecord.id).where(RefundRecord.uscc == ROW_L3[0])).scalar_one()
        s.execute(update(RefundRecord).where(RefundRecord.id == rid).values(bank_account="6222000000000000001"))
    assert report(logged).problems == [(None, f"record_state:{rid}")]
    broken = verify_command(logged)
    assert broken.returncode == 1 and f"entry -: record_state:{rid}" in broken.stdout


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
    ok = verify_command(logged)
    assert ok.returncode == 0, ok.stderr
    assert "audit log OK: 4 entries, head " in ok.stdout
    with logged.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(detail="{}"))
    broken = verify_command(logged)
    assert broken.returncode == 1 and "entry 3: hash" in broken.stdout
    # Without the key the log cannot be checked at all: the command does not start.
    unkeyed = verify_command(logged, REFUND_AUDIT_KEYS="{}")
    assert unkeyed.returncode != 0 and "audit_keys needs at least one key" in unkeyed.stderr


def test_keys_rotate_and_older_entries_still_verify(env_factory) -> None:
    before = env_factory()
    before.import_rows([ROW_L2])  # entries 1–2 under t1
    after = env_factory(audit_keys={**OTHER_KEY, **AUDIT_KEYS})  # t2 in front: it signs from now on
    after.import_rows([ROW_L3], year=2025)  # entries 3–4 under t2
    with after.db.transaction() as s:
        assert [e.key_id for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()] == ["t1", "t1", "t2", "t2"]
    assert report(after).ok
    # Each key is needed for what it signed.
    assert report(before).problems == [(3, "key_unknown:t2"), (4, "key_unknown:t2")]
    assert report(after, AuditKeys.configured({"t2": SecretStr(OTHER_KEY["t2"])})).problems == [
        (1, "key_unknown:t1"),
        (2, "key_unknown:t1"),
    ]


def test_a_retired_key_cannot_sign_after_a_newer_one(env_factory) -> None:
    before = env_factory()
    before.import_rows([ROW_L2])
    after = env_factory(audit_keys={**OTHER_KEY, **AUDIT_KEYS})
    after.import_rows([ROW_L3], year=2025)
    # Someone holding the retired key t1 re-signs the newest entry with it.
    with after.db.transaction() as s:
        last = s.get(AuditEntry, 4)
        last.detail = last.detail.replace('"line":2', '"line":7')
        last.key_id = "t1"
        last.hash = before.audit_keys.mac(last)
        s.get(AuditHead, 1).hash = last.hash
    assert report(after).problems == [(4, "key_order")]


@pytest.fixture
def legacy(env_factory) -> tuple[Env, str]:
    """A log written before the keys: what the previous release left (its
    entries are plain SHA-256, key_id NULL), and its head as the operator
    noted it before upgrading."""
    env = env_factory()
    env.import_rows([ROW_L2, ROW_L3])  # entries 1–3
    rewrite_chain(env, sha256_unkeyed)
    with env.db.transaction() as s:
        head = s.get(AuditHead, 1)
        return env, f"{head.seq}:{head.hash}"


def test_entries_from_before_the_keys_verify_only_up_to_the_pinned_head(legacy: tuple[Env, str], env_factory) -> None:
    old, pinned = legacy
    assert report(old).problems == [(seq, "unkeyed") for seq in (1, 2, 3)]  # not pinned: indistinguishable from a rewrite
    env = env_factory(audit_legacy_head=pinned)
    result = report(env)
    assert result.ok and result.legacy == 3
    env.import_rows([ROW_L1])  # keyed from here on
    result = report(env)
    assert result.ok and result.entries == 5 and result.legacy == 3
    ok = verify_command(env, REFUND_AUDIT_LEGACY_HEAD=pinned)
    assert ok.returncode == 0 and "audit log OK: 5 entries (3 of them unkeyed SHA-256 from before the keys)" in ok.stdout, ok.stdout
    env.login_staff("wg_auditor")
    assert "其中前 3 条为启用密钥前的 SHA-256 日志" in env.client.get("/agency/audit").text


def test_a_rewritten_legacy_entry_is_found(legacy: tuple[Env, str], env_factory) -> None:
    env = env_factory(audit_legacy_head=legacy[1])
    env.import_rows([ROW_L1])  # entries 4–5, keyed
    # The legacy part rewritten consistently in plain SHA-256, as its hashes allow.
    with env.db.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(actor_name="别人"))
        prev = GENESIS
        for entry in s.execute(select(AuditEntry).where(AuditEntry.seq <= 3).order_by(AuditEntry.seq)).scalars():
            entry.prev_hash = prev
            entry.hash = prev = legacy_hash(entry)
            s.flush()
    assert report(env).problems == [(4, "prev_hash"), (3, "legacy_head")]


def test_an_unkeyed_entry_after_the_pinned_head_is_found(legacy: tuple[Env, str], env_factory) -> None:
    env = env_factory(audit_legacy_head=legacy[1])
    env.import_rows([ROW_L1])
    with env.db.transaction() as s:
        sha256_unkeyed(s.get(AuditEntry, 5))
        s.get(AuditHead, 1).hash = s.get(AuditEntry, 5).hash
    assert report(env).problems == [(5, "unkeyed")]


def test_the_migration_leaves_entries_from_before_the_keys_unkeyed_and_verifiable(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'refund_portal.db'}"
    config = alembic_config(ROOT / "services" / "refund_portal" / "migrations", url)
    command.upgrade(config, "0002")
    # One entry as the previous release wrote it (there is no key_id column yet).
    row = {
        "seq": 1,
        "at": dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC),
        "actor_kind": "system",
        "actor_id": "loader",
        "actor_name": "系统",
        "acr": None,
        "address": None,
        "action": "import.accepted",
        "record_id": None,
        "subject": "import:1",
        "detail": "{}",
        "prev_hash": GENESIS,
    }
    digest = legacy_hash(AuditEntry(**row))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry.__table__).values(**row, hash=digest))
        conn.execute(insert(AuditHead.__table__).values(id=1, seq=1, hash=digest))
    engine.dispose()

    command.upgrade(config, "head")

    db = Database(url)
    try:
        with db.transaction() as s:
            assert s.get(AuditEntry, 1).key_id is None
            keys = {"t1": SecretStr(AUDIT_KEYS["t1"])}
            assert verify_chain(s, AuditKeys.configured(keys)).problems == [(1, "unkeyed")]
            result = verify_chain(s, AuditKeys.configured(keys, (1, digest)))
            assert result.ok and result.legacy == 1
    finally:
        db.dispose()
    command.downgrade(config, "0002")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "audit_keys needs at least one key"),
        ({"t 1": "x" * 40}, "audit key ids must be"),
        ({"k1": "dev-audit-key-not-for-production"}, "each must be a real secret"),
        ({"k1": "x" * 40, "k0": "short"}, "audit_keys ['k0']"),
    ],
)
def test_production_refuses_missing_placeholder_or_short_audit_keys(keys: dict, message: str) -> None:
    common = {
        "database_url": "sqlite://",
        "secret_key": "p" * 40,
        "public_url": "https://p",
        "isso_issuer": "https://i",
        "isso_client_secret": "s",
        "gdzwfw_verification_url": "https://v",
        "staff_totp_keys": "t" * 40,
    }
    with pytest.raises(ValidationError, match=re.escape(message)):
        RefundSettings(environment="production", audit_keys=keys, **common)
    assert RefundSettings(environment="production", audit_keys={"k1": "a" * 32}, **common).audit_keys["k1"].get_secret_value() == "a" * 32


@pytest.mark.parametrize("value", ["3", "0:" + "a" * 64, "3:" + "A" * 64, "3:" + "a" * 63])
def test_a_malformed_legacy_head_is_refused(value: str, make_settings) -> None:
    with pytest.raises(ValidationError, match="audit_legacy_head must be"):
        make_settings(audit_legacy_head=value)


def test_demo_data_loads_once_and_verifies(env_factory) -> None:
    env = env_factory(environment="development", demo_data=True)
    with env.db.transaction() as s:
        records = s.execute(select(RefundRecord).order_by(RefundRecord.year, RefundRecord.id)).scalars().all()
        assert [(r.year, r.uscc, r.status) for r in records] == [
            (2025, "91440104MA5DL2B24P", "paid"),
            (2026, "91440106MA5DL1A170", "pending"),
            (2026, "91440104MA5DL2B24P", "pending"),
            (2026, "91440103MA5DL3C31X", "pending"),
        ]
        assert verify_chain(s, env.audit_keys).ok
    # A second start (another worker, a restart) adds nothing.
    from services.refund_portal.demo import DEMO_STAFF_TOTP, load_demo_data

    staff_login = env.app.state.staff_login
    load_demo_data(
        env.db,
        passwords=staff_login.login.passwords,
        staff_cipher=staff_login.cipher,
        policies=env.app.state.policies,
        clock=env.clock,
        audit_keys=env.audit_keys,
    )
    with env.db.transaction() as s:
        assert len(s.execute(select(RefundRecord.id)).all()) == 4
    # The demo staff, with the TOTP secrets the README lists.
    env.staff_secrets.update(DEMO_STAFF_TOTP)
    assert env.login_staff("wg_supervisor", "Wg@staff2026").status_code == 303
    env.login_unit(UNIT_L2)
    page = env.client.get("/").text
    assert "2026年度失业保险稳岗返还" in page and "2025年度失业保险稳岗返还" in page and "已发放" in page


def test_no_demo_data_outside_development(env_factory) -> None:
    env = env_factory(environment="test", demo_data=True)
    with env.db.transaction() as s:
        assert s.execute(select(RefundRecord.id)).first() is None
