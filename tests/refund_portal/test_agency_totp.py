"""The agency console's second factor: password + 动态口令 (RFC 6238), each
code accepted once, wrong codes locking the account like wrong passwords."""

from __future__ import annotations

from sqlalchemy import select

from services.refund_portal.models import StaffAccount
from shared.totp import totp
from tests.refund_portal.conftest import STAFF_TOTP, Env


def a_wrong_code(env: Env) -> str:
    now = env.clock.timestamp()
    near = {totp(STAFF_TOTP, now + 30 * k) for k in (-1, 0, 1, 2)}  # 2: the next login's step
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_no_code_or_a_wrong_code_is_refused(env: Env) -> None:
    missing = env.login_staff("wg_clerk", code="")
    assert missing.status_code == 400 and "请输入账号、密码和动态口令" in missing.text
    wrong = env.login_staff("wg_clerk", code=a_wrong_code(env))
    assert wrong.status_code == 400 and "账号、密码或动态口令错误，您还可以尝试4次" in wrong.text
    assert env.client.get("/agency/", follow_redirects=False).status_code == 303


def test_a_code_logs_in_once(env: Env) -> None:
    code = env.staff_code("wg_supervisor")
    assert env.login_staff("wg_supervisor", code=code).status_code == 303
    replay = env.login_staff("wg_supervisor", code=code)
    assert replay.status_code == 400 and "该动态口令已使用，请等待口令刷新后再登录" in replay.text
    # Not counted as a failure: the next step's code is still accepted.
    assert env.login_staff("wg_supervisor").status_code == 303


def test_wrong_codes_lock_the_account(env: Env) -> None:
    for _ in range(env.settings.staff_login_max_failures):
        env.login_staff("wg_clerk", code=a_wrong_code(env))
    locked = env.login_staff("wg_clerk")
    assert locked.status_code == 400 and "密码或动态口令错误次数过多，账号已被锁定，请15分钟后再试" in locked.text
    env.clock.advance(env.settings.staff_login_lock_seconds)
    assert env.login_staff("wg_clerk").status_code == 303


def test_a_wrong_password_does_not_spend_the_code(env: Env) -> None:
    code = env.staff_code("wg_auditor")
    assert env.login_staff("wg_auditor", "Wrong@pass1", code=code).status_code == 400
    assert env.login_staff("wg_auditor", code=code).status_code == 303


def test_secrets_are_encrypted_at_rest_and_required(env: Env) -> None:
    with env.db.transaction() as s:
        stored = s.execute(select(StaffAccount.totp_secret_encrypted)).scalars().all()
        assert stored and all(value and STAFF_TOTP not in value for value in stored)
        s.execute(select(StaffAccount).where(StaffAccount.login_name == "wg_clerk")).scalar_one().totp_secret_encrypted = None
    assert env.login_staff("wg_clerk").status_code == 400
