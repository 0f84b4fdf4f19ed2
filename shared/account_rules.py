"""Login-account and password rules of the two identity providers.

* 广东政务服务网 (gdzwfw) — the provincial OIDC provider
* 人社 ISSO (hrss) — the human-resources and social-security single sign-on

Each ``check_*`` function returns ``None`` when the value is acceptable and
otherwise raises :class:`RuleError`, whose ``message`` is the provider's own
Chinese wording, fit to show next to the form field. Values are checked
exactly as given: nothing is stripped or case-folded, since a login account
or password with a stray space is a different value.
"""

from __future__ import annotations

import string

__all__ = [
    "RuleError",
    "GDZWFW_LOGIN_ACCOUNT_MESSAGE",
    "GDZWFW_PASSWORD_MESSAGE",
    "HRSS_LOGIN_ACCOUNT_MESSAGE",
    "HRSS_PASSWORD_MESSAGE",
    "check_gdzwfw_login_account",
    "check_gdzwfw_password",
    "check_hrss_login_account",
    "check_hrss_password",
    "longest_keyboard_run",
]

GDZWFW_LOGIN_ACCOUNT_MESSAGE = "请输入6-20位字符，仅包含数字、字母、下划线中的两种或以上的组合"
GDZWFW_PASSWORD_MESSAGE = "请输入8-20位字符，仅含数字、大写字母、小写字母、特殊字符中的三种及以上"
HRSS_LOGIN_ACCOUNT_MESSAGE = "登录账号应为5-20位，可以使用大小写字母、数字和下划线，且应该以字母开始"
# ``{n}`` is the ``max_keyboard_run`` in force.
HRSS_PASSWORD_MESSAGE = "密码应为8-30位，且必须包含大写字母、小写字母、数字中至少3种，同时不能在键盘上连续超过{n}个字符"


class RuleError(ValueError):
    """A login account or password broke a provider rule."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ASCII only on purpose: str.isalpha()/isdigit() would admit 汉字 and
# full-width digits, which neither provider accepts.
_DIGITS = frozenset(string.digits)
_UPPER = frozenset(string.ascii_uppercase)
_LOWER = frozenset(string.ascii_lowercase)
_LETTERS = _UPPER | _LOWER
_UNDERSCORE = frozenset("_")
_ACCOUNT_CHARS = _DIGITS | _LETTERS | _UNDERSCORE
# Printable ASCII that is neither a letter, a digit nor a space.
_SPECIAL = frozenset(string.punctuation)
_PASSWORD_CHARS = _DIGITS | _LETTERS | _SPECIAL


def _kinds(value: str, classes: tuple[frozenset[str], ...]) -> int:
    return sum(1 for cls in classes if any(ch in cls for ch in value))


def check_gdzwfw_login_account(value: str) -> None:
    """6–20 of digits, letters and ``_``, mixing at least two of the three."""
    if (
        not isinstance(value, str)
        or not 6 <= len(value) <= 20
        or any(ch not in _ACCOUNT_CHARS for ch in value)
        or _kinds(value, (_DIGITS, _LETTERS, _UNDERSCORE)) < 2
    ):
        raise RuleError(GDZWFW_LOGIN_ACCOUNT_MESSAGE)


def check_gdzwfw_password(value: str) -> None:
    """8–20 printable ASCII (no space), three or more of digit/upper/lower/special."""
    if (
        not isinstance(value, str)
        or not 8 <= len(value) <= 20
        or any(ch not in _PASSWORD_CHARS for ch in value)
        or _kinds(value, (_DIGITS, _UPPER, _LOWER, _SPECIAL)) < 3
    ):
        raise RuleError(GDZWFW_PASSWORD_MESSAGE)


def check_hrss_login_account(value: str) -> None:
    """5–20 of letters, digits and ``_``, starting with a letter."""
    if not isinstance(value, str) or not 5 <= len(value) <= 20 or value[0] not in _LETTERS or any(ch not in _ACCOUNT_CHARS for ch in value):
        raise RuleError(HRSS_LOGIN_ACCOUNT_MESSAGE)


# Sequences along which neighbouring characters count as "consecutive".
# Keyboard rows of a US layout, plus the alphabet and the digits so that
# "abcd" and "4321" count too. Runs are followed in either direction.
_KEYBOARD_SEQUENCES = (
    "1234567890-=",
    "qwertyuiop[]",
    "asdfghjkl;'",
    "zxcvbnm,./",
    string.ascii_lowercase,
    string.digits,
)
# For each sequence and direction, map a character to the one that follows it.
_NEXT_KEY: tuple[dict[str, str], ...] = tuple(
    {a: b for a, b in zip(seq, seq[1:], strict=False)} for base in _KEYBOARD_SEQUENCES for seq in (base, base[::-1])
)


def longest_keyboard_run(value: str) -> int:
    """Length of the longest run of consecutive keys in ``value``.

    A run follows one sequence (a keyboard row, the alphabet or the digits)
    in one direction, case-insensitively: ``"qwer"``, ``"REWQ"``, ``"abcd"``
    and ``"4321"`` are runs of 4; ``"qwq"`` is not a run of 3. A non-empty
    value has a longest run of at least 1.
    """
    text = value.lower()
    if not text:
        return 0
    longest = 1
    for following in _NEXT_KEY:
        run = 1
        for prev, ch in zip(text, text[1:], strict=False):
            run = run + 1 if following.get(prev) == ch else 1
            longest = max(longest, run)
    return longest


def check_hrss_password(value: str, *, max_keyboard_run: int = 3) -> None:
    """8–30 chars with upper, lower and digit; no keyboard run > ``max_keyboard_run``.

    Special characters are allowed but not required; whitespace and
    non-ASCII characters are refused.
    """
    if isinstance(max_keyboard_run, bool) or not isinstance(max_keyboard_run, int):
        raise TypeError("max_keyboard_run must be an int")
    if max_keyboard_run < 1:
        raise ValueError("max_keyboard_run must be at least 1")
    if (
        not isinstance(value, str)
        or not 8 <= len(value) <= 30
        or any(ch not in _PASSWORD_CHARS for ch in value)
        or _kinds(value, (_UPPER, _LOWER, _DIGITS)) < 3
        or longest_keyboard_run(value) > max_keyboard_run
    ):
        raise RuleError(HRSS_PASSWORD_MESSAGE.format(n=max_keyboard_run))
