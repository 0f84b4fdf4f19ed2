"""Money in 人民币: integer fen (分) everywhere, never floating point.

* :func:`parse_yuan` reads an amount as written in a list or typed in a form
  (``"12,345.67"``, ``"12345.6"``, ``"0"``) into integer fen, refusing more
  than two decimal places, signs and anything that is not a plain number.
* :func:`format_fen` writes fen back as yuan with thousands separators.
* :func:`fen_to_capital` writes the amount in 中文大写 as on official forms
  and bank vouchers, following 中国人民银行《支付结算办法》附件一
  「正确填写票据和结算凭证的基本规定」: 零壹贰叁肆伍陆柒捌玖 with
  拾佰仟万亿, 元角分; 「整」 after 元 when there are no 角/分; a leading
  「壹拾」; one 「零」 for a run of zeros; 「零」 after 元 when the 元 digit
  is 0 and 角 is not (¥1,680.32 → 壹仟陆佰捌拾元零叁角贰分), and when 角
  is 0 but 分 is not (¥325.04 → 叁佰贰拾伍元零肆分).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["MoneyError", "parse_yuan", "format_fen", "fen_to_yuan", "fen_to_capital", "apply_ratio", "MAX_FEN"]

# 9,999,999,999,999.99 yuan: beyond any refund, within a signed 64-bit column.
MAX_FEN = 999_999_999_999_999

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_SECTION_UNITS = ("", "万", "亿", "万亿")
_PLAIN = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")


class MoneyError(ValueError):
    """Not an amount; ``code`` says why (``empty``, ``format``, ``negative``,
    ``precision``, ``too_large``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_yuan(value: object) -> int:
    """An amount in yuan, as text or as an exact number, to integer fen.

    Floats are accepted only because spreadsheet cells arrive as floats: they
    are read through their shortest decimal representation (``repr``), so
    ``1234.56`` is exactly 123456 fen, and anything with more than two
    decimal places is refused rather than rounded.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError("empty")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise MoneyError("format")
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
    elif isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, str):
        # Full-width digits and separators from a Chinese IME fold to ASCII.
        text = unicodedata.normalize("NFKC", value).strip()
        for prefix in ("¥", "￥", "RMB"):
            text = text.removeprefix(prefix).strip()
    else:
        raise MoneyError("format")
    if not text:
        raise MoneyError("empty")
    if text.startswith("-"):
        raise MoneyError("negative")
    if not (_PLAIN.match(text) or _GROUPED.match(text)):
        raise MoneyError("format")
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the patterns admit only digits
        raise MoneyError("format") from None
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise MoneyError("precision")
    if fen > MAX_FEN:
        raise MoneyError("too_large")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """``1234567`` → ``"12345.67"`` (for exports and APIs: no separators)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def format_fen(fen: int) -> str:
    """``1234567`` → ``"12,345.67"`` (for pages)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def apply_ratio(fen: int, ratio: Decimal) -> int:
    """``fen × ratio`` rounded half up to the fen (四舍五入到分)."""
    if not isinstance(ratio, Decimal):
        raise TypeError("ratio must be a Decimal")
    return int((Decimal(fen) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _section(value: int) -> str:
    """0 < value < 10000 as 大写 digits with 拾佰仟, zeros collapsed, no
    trailing zero."""
    out: list[str] = []
    zero_pending = False
    for position in range(3, -1, -1):
        digit = value // 10**position % 10
        if digit == 0:
            if out:
                zero_pending = True
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[position])
    return "".join(out)


def _integer_capital(value: int) -> str:
    sections: list[int] = []
    while value:
        value, rest = divmod(value, 10000)
        sections.append(rest)
    out: list[str] = []
    need_zero = False
    for index in range(len(sections) - 1, -1, -1):
        part = sections[index]
        if part == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or part < 1000):
            out.append("零")
        out.append(_section(part) + _SECTION_UNITS[index])
        need_zero = False
    return "".join(out)


def fen_to_capital(fen: int) -> str:
    """Integer fen to 中文大写金额 (without the 「人民币」 prefix)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("amount must be integer fen")
    if fen < 0:
        raise ValueError("negative amounts have no 大写 form here")
    if fen > MAX_FEN:
        raise ValueError("amount too large")
    yuan, cents = divmod(fen, 100)
    jiao, fen_digit = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "零元整"
    out = ""
    if yuan:
        out = _integer_capital(yuan) + "元"
    if cents == 0:
        return out + "整"
    if jiao:
        if yuan and yuan % 10 == 0:
            out += "零"
        out += _DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen_digit:
        out += _DIGITS[fen_digit] + "分"
    return out
