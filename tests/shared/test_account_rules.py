"""Tests for shared.account_rules: each provider's wording and each rule edge."""

from __future__ import annotations

import pytest

from shared.account_rules import (
    GDZWFW_LOGIN_ACCOUNT_MESSAGE,
    GDZWFW_PASSWORD_MESSAGE,
    HRSS_LOGIN_ACCOUNT_MESSAGE,
    RuleError,
    check_gdzwfw_login_account,
    check_gdzwfw_password,
    check_hrss_login_account,
    check_hrss_password,
    longest_keyboard_run,
)


def test_messages_use_the_seed_wording() -> None:
    assert GDZWFW_LOGIN_ACCOUNT_MESSAGE == ("请输入6-20位字符，仅包含数字、字母、下划线中的两种或以上的组合")
    assert GDZWFW_PASSWORD_MESSAGE == ("请输入8-20位字符，仅含数字、大写字母、小写字母、特殊字符中的三种及以上")
    assert HRSS_LOGIN_ACCOUNT_MESSAGE == ("登录账号应为5-20位，可以使用大小写字母、数字和下划线，且应该以字母开始")


def test_rule_error_is_value_error_with_message() -> None:
    with pytest.raises(ValueError) as excinfo:
        check_gdzwfw_login_account("abc")
    assert isinstance(excinfo.value, RuleError)
    assert str(excinfo.value) == excinfo.value.message


# ---------------------------------------------------------------------------
# 广东政务服务网 login account
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["zhang3", "abc_def", "123_456", "a1b2c3d4e5f6g7h8i9j0", "Zhang_San_1990"],
    ids=["letters-digits", "letters-underscore", "digits-underscore", "20-chars", "all-three"],
)
def test_gdzwfw_login_account_accepted(value: str) -> None:
    assert check_gdzwfw_login_account(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "zhan3",
        "a1b2c3d4e5f6g7h8i9j0k",
        "zhangsan",
        "12345678",
        "______",
        "zhang-3",
        "zhang 3",
        "张三zhang3",
        "ｚｈａｎｇ３",
        None,
    ],
    ids=[
        "empty",
        "5-chars",
        "21-chars",
        "letters-only",
        "digits-only",
        "underscores-only",
        "hyphen",
        "space",
        "chinese",
        "full-width",
        "none",
    ],
)
def test_gdzwfw_login_account_refused(value: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        check_gdzwfw_login_account(value)
    assert excinfo.value.message == GDZWFW_LOGIN_ACCOUNT_MESSAGE


# ---------------------------------------------------------------------------
# 广东政务服务网 password
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["Abcdefg1", "abcdef1!", "ABCDEF1!", "Abcdefg!", "Aa1!Aa1!Aa1!Aa1!Aa1!", "p@ss~W0rd"],
    ids=["upper-lower-digit", "lower-digit-special", "upper-digit-special", "upper-lower-special", "20-chars-all-four", "tilde"],
)
def test_gdzwfw_password_accepted(value: str) -> None:
    assert check_gdzwfw_password(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Abcde1!",
        "Aa1!Aa1!Aa1!Aa1!Aa1!A",
        "abcdefg1",
        "ABCDEFG!",
        "12345678!",
        "Abc def1",
        "Abcdefg1é",
        "Abcdefg1密",
        "Abcdefg1\t",
        None,
    ],
    ids=[
        "empty",
        "7-chars",
        "21-chars",
        "two-kinds-lower-digit",
        "two-kinds-upper-special",
        "two-kinds-digit-special",
        "space",
        "non-ascii-letter",
        "chinese",
        "tab",
        "none",
    ],
)
def test_gdzwfw_password_refused(value: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        check_gdzwfw_password(value)
    assert excinfo.value.message == GDZWFW_PASSWORD_MESSAGE


# ---------------------------------------------------------------------------
# 人社 ISSO login account
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["zhang", "Zhang_San", "z1234", "a" * 20, "abcde", "A____"],
    ids=["5-letters", "underscore", "letter-then-digits", "20-chars", "letters-only", "letter-underscores"],
)
def test_hrss_login_account_accepted(value: str) -> None:
    assert check_hrss_login_account(value) is None


@pytest.mark.parametrize(
    "value",
    ["", "zhan", "a" * 21, "1zhang", "_zhang", "zhang-san", "zhang san", "张三abc", "ｚｈａｎｇ", None],
    ids=["empty", "4-chars", "21-chars", "starts-with-digit", "starts-with-underscore", "hyphen", "space", "chinese", "full-width", "none"],
)
def test_hrss_login_account_refused(value: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        check_hrss_login_account(value)
    assert excinfo.value.message == HRSS_LOGIN_ACCOUNT_MESSAGE


# ---------------------------------------------------------------------------
# 人社 ISSO password and keyboard runs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "run"),
    [
        ("qwer", 4),
        ("REWQ", 4),
        ("QwEr", 4),
        ("abcd", 4),
        ("4321", 4),
        ("7890-=", 6),
        ("qwas", 2),  # "qw" then "as": changing rows breaks the run
        ("l;'", 3),
        ("/.,m", 4),
        ("qwq", 2),  # direction change breaks the run
        ("9012", 3),  # no wrap-around: "901" is not a run, "012" is
        ("aaaa", 1),
        ("a", 1),
        ("", 0),
    ],
    ids=[
        "row-forward",
        "row-backward-upper",
        "mixed-case",
        "alphabet",
        "digits-descending",
        "number-row-to-symbols",
        "row-then-other-row",
        "home-row-symbols",
        "bottom-row-backward",
        "direction-change",
        "no-wrap",
        "repeat-is-not-a-run",
        "single",
        "empty",
    ],
)
def test_longest_keyboard_run(value: str, run: int) -> None:
    assert longest_keyboard_run(value) == run


@pytest.mark.parametrize(
    ("value", "max_run"),
    [
        ("Abc1x23Qwx", 3),
        ("Abc123Qwx", 3),
        ("Aa1Bb2Cc3", 3),
        ("Zx9#Mq2$Lp", 3),
        ("Abc123qwer", 4),
        ("A1b2C3d4" + "x" * 22, 3),
        ("Xk8Pm3Ry", 1),
    ],
    ids=[
        "seed-accepted-example",
        "runs-of-exactly-3",
        "8-chars",
        "with-specials",
        "qwer-ok-with-max-4",
        "30-chars",
        "max-1-no-neighbours",
    ],
)
def test_hrss_password_accepted(value: str, max_run: int) -> None:
    assert check_hrss_password(value, max_keyboard_run=max_run) is None


@pytest.mark.parametrize(
    ("value", "max_run"),
    [
        ("Abc123qwer", 3),
        ("Xyz9ASDFk", 3),
        ("Pass1234x", 3),
        ("Pass4321x", 3),
        ("Abcd9xyQ", 3),
        ("Xm9zxcvQ", 3),
        ("Abc123Qwx", 2),
        ("", 3),
        ("Aa1Bb2C", 3),
        ("A1b2C3d4" + "x" * 23, 3),
        ("abcxyz12", 3),
        ("ABCXYZ12", 3),
        ("Abcxyzab", 3),
        ("Aa1 Bb2Cc", 3),
        ("Aa1Bb2Cc密", 3),
        (None, 3),
    ],
    ids=[
        "seed-refused-example-qwer",
        "asdf-upper-case",
        "1234",
        "4321",
        "abcd",
        "zxcv",
        "abc-with-max-2",
        "empty",
        "7-chars",
        "31-chars",
        "no-upper",
        "no-lower",
        "no-digit",
        "space",
        "chinese",
        "none",
    ],
)
def test_hrss_password_refused(value: str, max_run: int) -> None:
    with pytest.raises(RuleError) as excinfo:
        check_hrss_password(value, max_keyboard_run=max_run)
    assert excinfo.value.message == (
        f"密码应为8-30位，且必须包含大写字母、小写字母、数字中至少3种，同时不能在键盘上连续超过{max_run}个字符"
    )


def test_hrss_password_default_max_run_is_3() -> None:
    assert check_hrss_password("Abc1x23Qwx") is None
    with pytest.raises(RuleError) as excinfo:
        check_hrss_password("Abc123qwer")
    assert "连续超过3个字符" in excinfo.value.message


@pytest.mark.parametrize("bad", [0, -1], ids=["zero", "negative"])
def test_hrss_password_rejects_nonsense_max_run(bad: int) -> None:
    with pytest.raises(ValueError) as excinfo:
        check_hrss_password("Abc1x23Qwx", max_keyboard_run=bad)
    assert not isinstance(excinfo.value, RuleError)
