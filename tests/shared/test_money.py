"""Money as integer fen and its 中文大写 form (shared/money.py), on edge values.

Expected 大写 strings follow 中国人民银行「正确填写票据和结算凭证的基本规定」
and its worked examples (¥1,680.32, ¥107,000.53, ¥325.04, ¥16.00 …)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.money import MAX_FEN, MoneyError, apply_ratio, fen_to_capital, fen_to_yuan, format_fen, parse_yuan


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (0, "零元整"),
        (1, "壹分"),
        (10, "壹角"),
        (11, "壹角壹分"),
        (100, "壹元整"),
        (105, "壹元零伍分"),
        (1600, "壹拾陆元整"),  # the leading 壹拾
        (1000, "壹拾元整"),
        (1050, "壹拾元零伍角"),
        (32504, "叁佰贰拾伍元零肆分"),  # 角 is 0, 分 is not
        (168032, "壹仟陆佰捌拾元零叁角贰分"),  # 元 digit 0, 角 is not
        (140950, "壹仟肆佰零玖元伍角"),
        (600714, "陆仟零柒元壹角肆分"),
        (10700053, "壹拾万柒仟元零伍角叁分"),
        (101000, "壹仟零壹拾元整"),
        (1001000, "壹万零壹拾元整"),
        (10010000, "壹拾万零壹佰元整"),
        (100000000, "壹佰万元整"),
        (100100000, "壹佰万壹仟元整"),
        (100000500, "壹佰万零伍元整"),
        (3457469, "叁万肆仟伍佰柒拾肆元陆角玖分"),
        (10000000000, "壹亿元整"),
        (10001000000, "壹亿零壹万元整"),
        (10000000100, "壹亿零壹元整"),
        (123456789012, "壹拾贰亿叁仟肆佰伍拾陆万柒仟捌佰玖拾元零壹角贰分"),
        (99999999, "玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        (MAX_FEN, "玖万亿玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_capital_amounts(fen: int, words: str) -> None:
    assert fen_to_capital(fen) == words


@pytest.mark.parametrize("bad", [-1, MAX_FEN + 1])
def test_capital_refuses_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        fen_to_capital(bad)


@pytest.mark.parametrize("bad", [1.5, Decimal("1"), "100", True])
def test_capital_takes_integer_fen_only(bad) -> None:
    with pytest.raises(TypeError):
        fen_to_capital(bad)


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("0", 0),
        ("0.01", 1),
        ("12345.67", 1234567),
        ("12,345.6", 1234560),
        (" 1,234,567.00 ", 123456700),
        ("￥88.8", 8880),
        ("１２３.４５", 12345),  # full-width digits from a Chinese IME
        (1234.56, 123456),  # a spreadsheet float, read exactly
        (0.1, 10),
        (1e3, 100000),
        (57624, 5762400),
        (Decimal("0.30"), 30),
    ],
)
def test_parse_yuan(text, fen) -> None:
    if fen is None:
        with pytest.raises(MoneyError):
            parse_yuan(text)
    else:
        assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        (None, "empty"),
        ("-5", "negative"),
        ("1.234", "precision"),
        (1.005, "precision"),
        ("12,34.00", "format"),
        ("1e3", "format"),
        ("abc", "format"),
        ("NaN", "format"),
        ("١٢٣", "format"),  # other scripts' digits are not amounts
        (float("nan"), "format"),
        ("99999999999999999", "too_large"),
    ],
)
def test_parse_yuan_refuses(text, code: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_yuan(text)
    assert caught.value.code == code


def test_formatting() -> None:
    assert format_fen(3457469) == "34,574.69"
    assert format_fen(5) == "0.05"
    assert fen_to_yuan(100000000) == "1000000.00"


@pytest.mark.parametrize(
    ("fen", "ratio", "expected"),
    [
        (5762448, "0.60", 3457469),  # 34,574.688 → 34,574.69
        (1, "0.60", 1),  # 0.6 fen → 1 fen
        (1, "0.30", 0),  # 0.3 fen → 0
        (5, "0.30", 2),  # 1.5 fen → 2 (half up, not to even)
        (25, "0.30", 8),  # 7.5 → 8
        (0, "0.60", 0),
        (60480000, "0.30", 18144000),
        (MAX_FEN, "1", MAX_FEN),
    ],
)
def test_apply_ratio_rounds_half_up_to_the_fen(fen: int, ratio: str, expected: int) -> None:
    assert apply_ratio(fen, Decimal(ratio)) == expected


def test_apply_ratio_refuses_floats() -> None:
    with pytest.raises(TypeError):
        apply_ratio(100, 0.6)  # type: ignore[arg-type]
