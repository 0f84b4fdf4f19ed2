"""Validators for the Chinese identifiers entered at login and registration.

* 统一社会信用代码 (unified social credit code) — GB 32100-2015
* 居民身份证号码 (resident identity card number) — GB 11643-1999
* 组织机构代码 (organisation code) — GB 11714-1997

Each validator normalises its input, checks it and returns the normalised
value, or raises :class:`IdentifierError` whose ``message`` is a Chinese
sentence that can be shown to the end user as-is, and whose ``code`` is a
stable machine-readable key (for logs, metrics and tests).

:func:`mask_id_number` hides the middle of an identifier before it is put on
a page or into a log line.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

__all__ = [
    "IdentifierError",
    "validate_uscc",
    "validate_resident_id",
    "validate_org_code",
    "mask_id_number",
]


class IdentifierError(ValueError):
    """An identifier failed validation; ``message`` is fit for the end user."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _normalise(value: object) -> str:
    """Full-width → half-width (NFKC), drop all whitespace, upper-case.

    Users typing with a Chinese IME often produce full-width digits and
    letters (``９１３５…``); NFKC folds them to ASCII. Non-``str`` input
    (``None`` from an empty form field) is treated as empty.
    """
    if not isinstance(value, str):
        return ""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in folded if not ch.isspace()).upper()


# ---------------------------------------------------------------------------
# 组织机构代码 — GB 11714-1997
# ---------------------------------------------------------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Hyphen-like characters a user may type between the 8th and 9th character;
# NFKC already folds the full-width "－" to "-".
_DASHES = frozenset("-‐‑‒–—―−")


def _org_char_value(ch: str) -> int:
    """0–9 for digits, 10–35 for A–Z (GB 11714 Table 1)."""
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def _org_check_char(body: str) -> str:
    total = sum(_org_char_value(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=False))
    c9 = 11 - total % 11
    if c9 == 10:
        return "X"
    if c9 == 11:
        return "0"
    return str(c9)


def validate_org_code(value: str) -> str:
    """Validate a 9-character 组织机构代码 and return it normalised.

    The hyphen customarily printed before the check character
    (``D2143569-X``) must be omitted: such input is refused rather than
    silently repaired, as the seed requires.
    """
    code = _normalise(value)
    if not code:
        raise IdentifierError("请输入组织机构代码", code="org.empty")
    if any(ch in _DASHES for ch in code):
        if len(code) == 10 and code[8] in _DASHES:
            raise IdentifierError("组织机构代码第九位“-”请省略", code="org.hyphen")
        raise IdentifierError("组织机构代码只能包含数字和大写英文字母，“-”请省略", code="org.charset")
    if len(code) != 9:
        raise IdentifierError("组织机构代码应为9位，第九位“-”请省略", code="org.length")
    body, check = code[:8], code[8]
    if any(ch not in _ORG_BODY_CHARS for ch in body) or not (check.isdigit() or check == "X"):
        raise IdentifierError(
            "组织机构代码只能包含数字和大写英文字母，最后一位为数字或X",
            code="org.charset",
        )
    if _org_check_char(body) != check:
        raise IdentifierError("组织机构代码校验位不正确，请核对后重新输入", code="org.checksum")
    return code


# ---------------------------------------------------------------------------
# 统一社会信用代码 — GB 32100-2015
# ---------------------------------------------------------------------------

_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 chars, no I O Z S V
_USCC_VALUES = {ch: i for i, ch in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# 登记管理部门代码: 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游,
# 7 宗教, 8 工会, 9 工商, A 中央军委改革和编制办公室, N 农业, Y 其他.
_USCC_AUTHORITIES = frozenset("123456789ANY")
# 机构类别代码: every authority's category table uses the digits 1–9.
_USCC_CATEGORIES = frozenset("123456789")


def _uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=False))
    return _USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Validate an 18-character 统一社会信用代码 and return it normalised.

    Normalisation removes whitespace and upper-cases (after folding
    full-width characters). Positions, 1-based:

    1      登记管理部门代码 (one of 1–9, A, N, Y)
    2      机构类别代码 (1–9)
    3–8    登记管理机关行政区划码 (digits)
    9–17   主体标识码 = 组织机构代码, itself checked per GB 11714
    18     check character, mod 31 over the code's own charset
    """
    code = _normalise(value)
    if not code:
        raise IdentifierError("请输入统一社会信用代码", code="uscc.empty")
    if len(code) != 18:
        raise IdentifierError("统一社会信用代码应为18位", code="uscc.length")
    if any(ch not in _USCC_VALUES for ch in code):
        raise IdentifierError(
            "统一社会信用代码含有不允许的字符（不使用 I、O、Z、S、V）",
            code="uscc.charset",
        )
    if code[0] not in _USCC_AUTHORITIES:
        raise IdentifierError("统一社会信用代码第1位（登记管理部门代码）不正确", code="uscc.authority")
    if code[1] not in _USCC_CATEGORIES:
        raise IdentifierError("统一社会信用代码第2位（机构类别代码）不正确", code="uscc.category")
    if not code[2:8].isdigit():
        raise IdentifierError("统一社会信用代码第3-8位（行政区划码）应为数字", code="uscc.region")
    org = code[8:17]
    if _org_check_char(org[:8]) != org[8]:
        raise IdentifierError(
            "统一社会信用代码第9-17位（组织机构代码）不正确，请核对后重新输入",
            code="uscc.org_code",
        )
    if _uscc_check_char(code[:17]) != code[17]:
        raise IdentifierError("统一社会信用代码校验位不正确，请核对后重新输入", code="uscc.checksum")
    return code


# ---------------------------------------------------------------------------
# 居民身份证号码 — GB 11643-1999
# ---------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_MAP = "10X98765432"
_ID_EARLIEST_BIRTH = dt.date(1900, 1, 1)


def _resident_id_check_char(first17: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=False))
    return _ID_CHECK_MAP[total % 11]


def validate_resident_id(value: str, *, today: dt.date | None = None) -> str:
    """Validate an 18-character 居民身份证号码 and return it normalised.

    Positions 7–14 are the birth date YYYYMMDD: it must exist, must not be
    after ``today`` (default :meth:`datetime.date.today`) and not before
    1900-01-01. A trailing lower-case ``x`` is normalised to ``X``.
    """
    number = _normalise(value)
    if not number:
        raise IdentifierError("请输入身份证号码", code="rid.empty")
    if len(number) != 18:
        raise IdentifierError("身份证号码应为18位", code="rid.length")
    if not (number[:17].isascii() and number[:17].isdigit() and (number[17].isdigit() or number[17] == "X")):
        raise IdentifierError(
            "身份证号码格式不正确：前17位应为数字，最后一位为数字或X",
            code="rid.charset",
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError("身份证号码的出生日期不存在", code="rid.birth_date") from None
    if birth < _ID_EARLIEST_BIRTH:
        raise IdentifierError("身份证号码的出生日期不能早于1900年", code="rid.birth_too_early")
    if birth > (today if today is not None else dt.date.today()):
        raise IdentifierError("身份证号码的出生日期不能晚于今天", code="rid.birth_in_future")
    if _resident_id_check_char(number[:17]) != number[17]:
        raise IdentifierError("身份证号码校验位不正确", code="rid.checksum")
    return number


# ---------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------

_MASK_KEEP = 4
# Below this length keeping 4+4 characters would reveal most of the value
# (a 9-character 组织机构代码 would show 8 of 9), so it is starred entirely.
_MASK_MIN_PARTIAL = 12


def mask_id_number(value: str) -> str:
    """Mask an identifier for pages and logs: ``4401**********1234``.

    Keeps the first 4 and last 4 characters and stars the middle. Input
    shorter than 12 characters (after stripping surrounding whitespace) is
    starred entirely; empty or non-``str`` input gives ``""``. The length is
    preserved so a masked value still looks like the kind of number it was.
    """
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if len(text) < _MASK_MIN_PARTIAL:
        return "*" * len(text)
    middle = len(text) - 2 * _MASK_KEEP
    return text[:_MASK_KEEP] + "*" * middle + text[-_MASK_KEEP:]
