"""Password login with lockout (the seed's 账号密码 method).

Lockout counts wrong passwords per account and attempts per client address in
the shared store; a locked account is refused before the password is checked,
so a locked account cannot be used as a password oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.gdzwfw_idp.accounts import find_by_login_name
from services.gdzwfw_idp.models import Account
from shared.db import Database
from shared.passwords import PasswordService, rehash_after_login
from shared.ratelimit import Limiter

__all__ = ["LoginService", "LoginResult", "password_login"]


@dataclass
class LoginResult:
    account: Account | None = None
    error: str | None = None


class LoginService:
    def __init__(self, *, passwords: PasswordService, per_account: Limiter, per_address: Limiter) -> None:
        self.passwords = passwords
        self.per_account = per_account
        self.per_address = per_address

    def authenticate(self, db: Database, *, login_name: str, password: str, account_type: str, address: str) -> LoginResult:
        """Check a password login. Counters are read and written outside the
        database transaction, and argon2 runs outside it too, so a slow hash
        never holds a lock."""
        login_name = login_name.strip()
        if not login_name or not password:
            return LoginResult(error="请输入账号和密码")
        lock_minutes = self.per_account.window_seconds // 60
        locked = f"密码错误次数过多，账号已被锁定，请{lock_minutes}分钟后再试，或通过“找回密码/账号”重置密码"
        if self.per_address.is_blocked(address):
            return LoginResult(error=f"登录尝试过于频繁，请{lock_minutes}分钟后再试")
        if self.per_account.is_blocked(login_name):
            return LoginResult(error=locked)
        with db.transaction() as s:
            account = find_by_login_name(s, login_name=login_name)
            if account is not None:
                s.expunge(account)
        if not self.passwords.verify(account.password_hash if account else None, password) or account is None:
            # Only failures count against an address: an office behind one NAT
            # address may log in many times legitimately.
            self.per_address.hit(address)
            left = self.per_account.hit(login_name)
            return LoginResult(error=locked if left == 0 else f"账号或密码错误，您还可以尝试{left}次")
        if account.status != "active":
            return LoginResult(error="该账号已停用，如有疑问请拨打 12345 咨询")
        if account.account_type != account_type:
            if account_type == "legal_person":
                return LoginResult(error="该账号为个人账号，请切换到“个人登录”")
            return LoginResult(error="该账号为法人账号，请切换到“法人登录”")
        self.per_account.reset(login_name)
        rehash_after_login(db, self.passwords, Account, account_id=account.id, checked_hash=account.password_hash, password=password)
        return LoginResult(account=account)


def password_login(
    service: LoginService, db: Database, *, tab: str, as_handler: bool, login_name: str, password: str, address: str
) -> LoginResult:
    """The login form's 账号密码: 法人登录 takes legal-person accounts, 个人登录
    and 经办人登录 (a person logging in to act for a unit) natural persons."""
    account_type = "legal_person" if tab == "legal" and not as_handler else "natural_person"
    result = service.authenticate(db, login_name=login_name, password=password, account_type=account_type, address=address)
    if as_handler and result.error and "个人登录" in result.error:
        return LoginResult(error="经办人登录请使用您的个人账号")
    return result
