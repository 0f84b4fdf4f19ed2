"""The operator's create-staff command."""

from __future__ import annotations

import re

from services.hrss_isso import manage
from services.hrss_isso.models import Staff
from tests.hrss_isso.conftest import Isso
from tests.hrss_isso.flows import staff_code


def test_create_staff_adds_a_role_checked_account(isso: Isso, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ISSO_DATABASE_URL", isso.settings.database_url)
    monkeypatch.setenv("ISSO_ENVIRONMENT", "development")
    monkeypatch.setenv("ISSO_SECRET_KEY", "test-secret-key-test-secret-key-0123456789")
    monkeypatch.setenv("ISSO_PUBLIC_URL", "http://127.0.0.1:8002")
    monkeypatch.setenv("ISSO_GDZWFW_ISSUER", "http://127.0.0.1:8001")
    monkeypatch.setenv("ISSO_GDZWFW_CLIENT_SECRET", "x")
    monkeypatch.setenv("ISSO_NEW_STAFF_PASSWORD", "weak")
    argv = ["--login", "window_clerk", "--name", "王窗口", "--agency", "深圳市社会保险基金管理局", "--role", "authcode_review"]
    assert manage.create_staff(argv) == 2 and "密码应为8-30位" in capsys.readouterr().err
    monkeypatch.setenv("ISSO_NEW_STAFF_PASSWORD", "Shen@zhen2026")
    assert manage.create_staff(argv) == 0
    printed = capsys.readouterr().out
    secret = re.search(r"动态口令密钥.*: ([A-Z2-7]{32})$", printed, re.M).group(1)
    issuer = "%E5%B9%BF%E4%B8%9C%E4%BA%BA%E7%A4%BE%E7%BB%9F%E4%B8%80%E8%AE%A4%E8%AF%81"  # 广东人社统一认证
    assert f"otpauth://totp/{issuer}%3Awindow_clerk?secret={secret}" in printed
    assert isso.count(Staff, Staff.login_name == "window_clerk") == 1
    assert manage.create_staff(argv) == 1
    # Password alone is not enough; with the printed secret's code it is.
    assert isso.post_form("/isso/staff/login", {"login_name": "window_clerk", "password": "Shen@zhen2026"}).status_code == 400
    clerk = {"login_name": "window_clerk", "password": "Shen@zhen2026"}
    login = isso.post_form("/isso/staff/login", {**clerk, "totp": staff_code(isso, secret)})
    assert login.status_code == 303
    assert manage.enrol_staff_totp(["--login", "nobody"]) == 1
    assert manage.enrol_staff_totp(["--login", "window_clerk"]) == 0
    renewed = re.search(r": ([A-Z2-7]{32})$", capsys.readouterr().out, re.M).group(1)
    stale = isso.post_form("/isso/staff/login", {**clerk, "totp": staff_code(isso, secret)})
    assert renewed != secret and stale.status_code == 400
    fresh = isso.post_form("/isso/staff/login", {**clerk, "totp": staff_code(isso, renewed)})
    assert fresh.status_code == 303
