"""The agency console's second factor: its approvals raise units to L2, so a
password alone does not log staff in; each 动态口令 (RFC 6238) is accepted
once, and wrong codes lock the account like wrong passwords."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from services.hrss_isso.demo import DEMO_STAFF_TOTP
from services.hrss_isso.models import Staff
from shared.totp import totp
from tests.hrss_isso.conftest import DEMO_PASSWORD, Isso
from tests.hrss_isso.flows import staff_code

REVIEWER = "staff_review"
SECRET = DEMO_STAFF_TOTP[REVIEWER]


def attempt(isso: Isso, code: str | None, *, login_name: str = REVIEWER, password: str = DEMO_PASSWORD) -> httpx.Response:
    form = {"login_name": login_name, "password": password, **({"totp": code} if code is not None else {})}
    return isso.post_form("/isso/staff/login", form, browser=isso.new_browser())


def wrong_code(isso: Isso) -> str:
    # Neither this step's code nor a neighbour's (skew 1).
    now = isso.clock.timestamp()
    near = {totp(SECRET, now + 30 * k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_a_password_without_a_code_is_refused(isso: Isso) -> None:
    refused = attempt(isso, None)
    assert refused.status_code == 400 and "请输入账号、密码和动态口令" in refused.text


def test_a_wrong_code_is_refused_and_counted(isso: Isso) -> None:
    refused = attempt(isso, wrong_code(isso))
    assert refused.status_code == 400
    assert f"账号、密码或动态口令错误，您还可以尝试{isso.settings.login_max_failures - 1}次" in refused.text
    # Another staff member's code is a wrong code too.
    other = attempt(isso, totp(DEMO_STAFF_TOTP["staff_viewer"], isso.clock.timestamp()))
    assert other.status_code == 400 and "动态口令错误" in other.text


def test_the_right_code_logs_in_once(isso: Isso) -> None:
    code = staff_code(isso, SECRET)
    accepted = attempt(isso, code)
    assert accepted.status_code == 303 and accepted.headers["location"].startswith("/isso/staff/applications")
    replayed = attempt(isso, code)
    assert replayed.status_code == 400 and "该动态口令已使用，请等待口令刷新后再登录" in replayed.text
    # An older code, still within the tolerated drift, after a newer one: refused too.
    older = totp(SECRET, isso.clock.timestamp() - 30)
    assert attempt(isso, older).status_code == 400
    assert attempt(isso, staff_code(isso, SECRET)).status_code == 303


def test_wrong_codes_lock_the_account_even_for_the_right_code(isso: Isso) -> None:
    for _ in range(isso.settings.login_max_failures):
        attempt(isso, wrong_code(isso))
    locked = attempt(isso, staff_code(isso, SECRET))
    assert locked.status_code == 400 and "验证失败次数过多，账号已被锁定，请15分钟后再试" in locked.text
    isso.clock.advance(isso.settings.login_lock_seconds)
    assert attempt(isso, staff_code(isso, SECRET)).status_code == 303


def test_a_code_is_never_checked_for_a_wrong_password(isso: Isso) -> None:
    # Else a wrong password would spend the code, and tell the guesser it was right.
    code = staff_code(isso, SECRET)
    assert attempt(isso, code, password="Wrong@pass26").status_code == 400
    assert attempt(isso, code).status_code == 303


def test_staff_without_an_enrolled_secret_cannot_log_in(isso: Isso) -> None:
    with isso.db() as s:
        s.execute(select(Staff).where(Staff.login_name == REVIEWER)).scalar_one().totp_secret_encrypted = None
    assert attempt(isso, staff_code(isso, SECRET)).status_code == 400


def test_secrets_are_encrypted_at_rest(isso: Isso) -> None:
    with isso.db() as s:
        stored = s.execute(select(Staff.totp_secret_encrypted)).scalars().all()
    assert stored and all(value and not any(secret in value for secret in DEMO_STAFF_TOTP.values()) for value in stored)
