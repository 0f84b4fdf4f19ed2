"""Password login with lockout (the seed's 账号密码 method): the shared checks
(:mod:`shared.password_login`) over gdzwfw_idp's accounts, with the tab's
account type as this service's own admission rule and its own messages."""

from __future__ import annotations

from dataclasses import dataclass

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.accounts import LoginAccount, alogin_account
from services.gdzwfw_idp.models import Account
from shared.db import Database
from shared.db_async import AsyncReads
from shared.password_login import Credentials, Disabled, Locked, LoggedIn, Missing, NotAdmitted, Outcome, PasswordLogin, Throttled, Wrong
from shared.passwords import PasswordService
from shared.ratelimit import Limiter

__all__ = ["LoginResult", "login_service", "password_login"]


@dataclass
class LoginResult:
    # The account as the login read it: its id and login_generation start the login.
    account: LoginAccount | None = None
    error: str | None = None


def login_service(*, passwords: PasswordService, per_account: Limiter, per_address: Limiter, reads: AsyncReads) -> PasswordLogin:
    async def alookup(login_name: str) -> Credentials | None:
        found = await alogin_account(reads, login_name=login_name)
        return None if found is None else Credentials(found.id, found.password_hash, found.status == "active", account=found)

    # The login form's route is async: the account is read on the loop (aauthenticate).
    return PasswordLogin(alookup=alookup, model=Account, passwords=passwords, per_account=per_account, per_address=per_address)


def _message(outcome: Outcome, *, personal_wanted: bool, hotline: str) -> str:
    match outcome:
        case Missing():
            return "请输入账号和密码"
        case Wrong(left=left) if left:
            return f"账号或密码错误，您还可以尝试{left}次"
        case Throttled(seconds=seconds):
            return f"登录尝试过于频繁，请{seconds // 60}分钟后再试"
        case Disabled():
            return msg.ACCOUNT_DISABLED.format(hotline=hotline)
        case NotAdmitted():
            return "该账号为法人账号，请切换到“法人登录”" if personal_wanted else "该账号为个人账号，请切换到“个人登录”"
        case Locked(seconds=seconds) | Wrong(seconds=seconds):
            return f"密码错误次数过多，账号已被锁定，请{seconds // 60}分钟后再试，或通过“找回密码/账号”重置密码"
    raise ValueError(f"no message for {outcome!r}")


async def password_login(
    service: PasswordLogin,
    db: Database,
    *,
    tab: str,
    as_handler: bool,
    login_name: str,
    password: str,
    address: str,
    hotline: str,
) -> LoginResult:
    """The login form's 账号密码: 法人登录 takes legal-person accounts, 个人登录
    and 经办人登录 (a person logging in to act for a unit) natural persons;
    ``hotline`` is the number a stopped account is told to call."""
    account_type = "legal_person" if tab == "legal" and not as_handler else "natural_person"
    outcome = await service.aauthenticate(
        db,
        login_name=login_name,
        password=password,
        address=address,
        admit=lambda found: None if found.account.account_type == account_type else "account_type",
    )
    if isinstance(outcome, LoggedIn):
        return LoginResult(account=outcome.account)
    if as_handler and isinstance(outcome, NotAdmitted):
        return LoginResult(error="经办人登录请使用您的个人账号")
    return LoginResult(error=_message(outcome, personal_wanted=account_type == "natural_person", hotline=hotline))
