"""Tests for shared.identifiers.

Valid 统一社会信用代码 are real, published codes of registered entities;
valid 身份证号码 are the GB 11643-1999 examples or numbers constructed here
with a checksum computed by hand from the standard (no real person's number).
Every "bad" value is built from a valid one by changing exactly one thing, so
each case fails for the reason its id names and for no other.
"""

from __future__ import annotations

import datetime as dt

import pytest

from shared.identifiers import (
    IdentifierError,
    mask_id_number,
    validate_org_code,
    validate_resident_id,
    validate_uscc,
)

# ---------------------------------------------------------------------------
# 统一社会信用代码
# ---------------------------------------------------------------------------

HUAWEI = "914403001922038216"  # 华为技术有限公司 (深圳)
TENCENT = "91440300708461136T"  # 腾讯科技（深圳）有限公司
XIAOMI = "91110108551385082Q"  # 小米科技有限责任公司 (北京)
WIDELY_CITED = "91350100M000100Y43"  # the example used by hutool & many validators


@pytest.mark.parametrize(
    "code",
    [HUAWEI, TENCENT, XIAOMI, WIDELY_CITED],
    ids=["huawei", "tencent", "xiaomi", "widely-cited-example"],
)
def test_uscc_real_codes_pass(code: str) -> None:
    assert validate_uscc(code) == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91440300708461136t", TENCENT),
        (" 9144 0300 7084 6113 6T ", TENCENT),
        ("９１４４０３００１９２２０３８２１６", HUAWEI),  # full-width IME input
        ("\t91350100m000100y43\n", WIDELY_CITED),
    ],
    ids=["lower-case", "spaces", "full-width", "lower-case-and-whitespace"],
)
def test_uscc_normalises_spaces_and_case(raw: str, expected: str) -> None:
    assert validate_uscc(raw) == expected


@pytest.mark.parametrize(
    ("code", "fragment", "error_code"),
    [
        ("", "请输入统一社会信用代码", "uscc.empty"),
        ("   ", "请输入统一社会信用代码", "uscc.empty"),
        (HUAWEI[:17], "应为18位", "uscc.length"),
        (HUAWEI + "6", "应为18位", "uscc.length"),
        ("440301104001819", "应为18位", "uscc.length"),  # old 15-digit 注册号 shape
        # Only the check character changed.
        ("914403001922038217", "校验位不正确", "uscc.checksum"),
        ("91440300708461136U", "校验位不正确", "uscc.checksum"),
        ("91350100M000100Y44", "校验位不正确", "uscc.checksum"),
        # Forbidden letters I, O, Z, S, V in place of the check character.
        ("91440300708461136I", "不使用 I、O、Z、S、V", "uscc.charset"),
        ("91440300708461136O", "不使用 I、O、Z、S、V", "uscc.charset"),
        ("91440300708461136Z", "不使用 I、O、Z、S、V", "uscc.charset"),
        ("91440300708461136S", "不使用 I、O、Z、S、V", "uscc.charset"),
        ("91440300708461136V", "不使用 I、O、Z、S、V", "uscc.charset"),
        # A forbidden letter inside the body (O for 0, a classic typo).
        ("91350100M0O0100Y43", "含有不允许的字符", "uscc.charset"),
        ("9144030070846113-T", "含有不允许的字符", "uscc.charset"),
        # Check character recomputed: only the named position is wrong.
        ("B1440300708461136Q", "登记管理部门代码", "uscc.authority"),
        ("90440300708461136X", "机构类别代码", "uscc.category"),
        ("9144A300708461136N", "行政区划码", "uscc.region"),
        # Mod-31 check is right but the embedded 组织机构代码 fails GB 11714.
        ("91440300708461137X", "组织机构代码", "uscc.org_code"),
        ("911100001000056215", "组织机构代码", "uscc.org_code"),
    ],
    ids=[
        "empty",
        "blank",
        "17-chars",
        "19-chars",
        "15-digit-registration-number",
        "huawei-check-7",
        "tencent-check-U",
        "widely-cited-check-4",
        "forbidden-I",
        "forbidden-O",
        "forbidden-Z",
        "forbidden-S",
        "forbidden-V",
        "letter-O-in-body",
        "hyphen-in-body",
        "authority-B",
        "category-0",
        "region-letter",
        "embedded-org-code-check",
        "seed-candidate-911100001000056215",
    ],
)
def test_uscc_refused(code: str, fragment: str, error_code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_uscc(code)
    assert fragment in excinfo.value.message
    assert excinfo.value.code == error_code
    assert str(excinfo.value) == excinfo.value.message


def test_uscc_exact_messages() -> None:
    cases = {
        "914403001922038217": "统一社会信用代码校验位不正确，请核对后重新输入",
        HUAWEI[:17]: "统一社会信用代码应为18位",
        "91440300708461136I": "统一社会信用代码含有不允许的字符（不使用 I、O、Z、S、V）",
    }
    for code, message in cases.items():
        with pytest.raises(IdentifierError) as excinfo:
            validate_uscc(code)
        assert excinfo.value.message == message


def test_identifier_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        validate_uscc("914403001922038217")


# ---------------------------------------------------------------------------
# 居民身份证号码
# ---------------------------------------------------------------------------

TODAY = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002X", "11010519491231002X"),  # GB 11643-1999 example
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002x ", "11010519491231002X"),
        ("440106199001011235", "440106199001011235"),  # constructed
        ("44030519850615432X", "44030519850615432X"),  # constructed, check X
        ("440106200002291238", "440106200002291238"),  # 2000 is a leap year
        ("440106202611281237", "440106202611281237"),  # born "today"
    ],
    ids=[
        "gb11643-example",
        "lower-case-x",
        "spaces-and-lower-x",
        "guangzhou-1990",
        "shenzhen-check-X",
        "leap-day-2000",
        "born-today",
    ],
)
def test_resident_id_valid(raw: str, expected: str) -> None:
    assert validate_resident_id(raw, today=TODAY) == expected


@pytest.mark.parametrize(
    ("number", "fragment", "error_code"),
    [
        ("", "请输入身份证号码", "rid.empty"),
        ("11010519491231002", "应为18位", "rid.length"),
        ("110105491231002", "应为18位", "rid.length"),  # old 15-digit number
        ("11010519491231002XX", "应为18位", "rid.length"),
        ("110105194912310021", "校验位不正确", "rid.checksum"),
        ("440106199001011234", "校验位不正确", "rid.checksum"),
        ("44030519850615432Y", "前17位应为数字", "rid.charset"),
        ("1101051949123100X2", "前17位应为数字", "rid.charset"),
        # Check digits recomputed so that only the birth date is wrong.
        ("44010619990230123X", "出生日期不存在", "rid.birth_date"),
        ("440106199913011238", "出生日期不存在", "rid.birth_date"),
        ("440106199900001233", "出生日期不存在", "rid.birth_date"),
        ("440106190002291231", "出生日期不存在", "rid.birth_date"),  # 1900 not leap
        ("440106202611291232", "不能晚于今天", "rid.birth_in_future"),
        # GB 11643-1999's own second example (checksum right, born 1880).
        ("440524188001010014", "不能早于1900年", "rid.birth_too_early"),
    ],
    ids=[
        "empty",
        "17-digits",
        "15-digit-old-number",
        "19-chars",
        "gb11643-example-check-1",
        "check-4-instead-of-5",
        "check-Y",
        "X-not-last",
        "feb-30",
        "month-13",
        "month-00-day-00",
        "feb-29-1900",
        "tomorrow",
        "gb11643-example-1880",
    ],
)
def test_resident_id_refused(number: str, fragment: str, error_code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_resident_id(number, today=TODAY)
    assert fragment in excinfo.value.message
    assert excinfo.value.code == error_code


def test_resident_id_future_depends_on_today() -> None:
    number = "440106202601011233"  # 2026-01-01, checksum correct
    assert validate_resident_id(number, today=dt.date(2026, 1, 1)) == number
    with pytest.raises(IdentifierError) as excinfo:
        validate_resident_id(number, today=dt.date(2025, 12, 31))
    assert excinfo.value.message == "身份证号码的出生日期不能晚于今天"


def test_resident_id_default_today_is_real_today() -> None:
    far_future = "440106299912311237"  # 2999-12-31, checksum correct
    with pytest.raises(IdentifierError) as excinfo:
        validate_resident_id(far_future)
    assert excinfo.value.code == "rid.birth_in_future"


def test_resident_id_exact_messages() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_resident_id("44010619990230123X", today=TODAY)
    assert excinfo.value.message == "身份证号码的出生日期不存在"
    with pytest.raises(IdentifierError) as excinfo:
        validate_resident_id("110105194912310021", today=TODAY)
    assert excinfo.value.message == "身份证号码校验位不正确"


# ---------------------------------------------------------------------------
# 组织机构代码
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("D2143569X", "D2143569X"),  # GB 11714-1997 example D2143569-X
        ("d2143569x", "D2143569X"),
        ("192203821", "192203821"),  # 华为, embedded in its USCC
        ("708461136", "708461136"),  # 腾讯科技（深圳）, embedded in its USCC
        ("M000100Y4", "M000100Y4"),  # from 91350100M000100Y43
        ("123456788", "123456788"),
    ],
    ids=[
        "gb11714-example",
        "lower-case",
        "huawei",
        "tencent",
        "widely-cited-uscc",
        "simple-digits",
    ],
)
def test_org_code_valid(raw: str, expected: str) -> None:
    assert validate_org_code(raw) == expected


@pytest.mark.parametrize(
    ("code", "fragment", "error_code"),
    [
        ("", "请输入组织机构代码", "org.empty"),
        ("D2143569-X", "第九位“-”请省略", "org.hyphen"),
        ("19220382-1", "第九位“-”请省略", "org.hyphen"),
        ("12345678-8", "第九位“-”请省略", "org.hyphen"),
        ("D2143569－X", "第九位“-”请省略", "org.hyphen"),  # full-width hyphen
        ("D2143-569X", "“-”请省略", "org.charset"),
        ("D2143569", "应为9位", "org.length"),
        ("D2143569XX", "应为9位", "org.length"),
        ("D2143569Y", "最后一位为数字或X", "org.charset"),
        ("D2143_69X", "只能包含数字和大写英文字母", "org.charset"),
        ("D21435690", "校验位不正确", "org.checksum"),
        ("192203822", "校验位不正确", "org.checksum"),
    ],
    ids=[
        "empty",
        "gb11714-example-with-hyphen",
        "huawei-with-hyphen",
        "digits-with-hyphen",
        "full-width-hyphen",
        "hyphen-elsewhere",
        "8-chars",
        "10-chars",
        "check-Y",
        "underscore",
        "gb11714-example-check-0",
        "huawei-check-2",
    ],
)
def test_org_code_refused(code: str, fragment: str, error_code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_org_code(code)
    assert fragment in excinfo.value.message
    assert excinfo.value.code == error_code


def test_org_code_hyphen_exact_message() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate_org_code("D2143569-X")
    assert excinfo.value.message == "组织机构代码第九位“-”请省略"
    with pytest.raises(IdentifierError) as excinfo:
        validate_org_code("D2143569")
    assert excinfo.value.message == "组织机构代码应为9位，第九位“-”请省略"


# ---------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("440106199001011234", "4401**********1234"),
        ("11010519491231002X", "1101**********002X"),
        (TENCENT, "9144**********136T"),
        ("110105491231002", "1101*******1002"),
        ("123456789012", "1234****9012"),
        ("12345678901", "***********"),
        ("D2143569X", "*********"),
        ("1234", "****"),
        ("", ""),
        ("  440106199001011234 ", "4401**********1234"),
    ],
    ids=[
        "resident-id",
        "resident-id-X",
        "uscc",
        "15-digit-id",
        "12-chars-shortest-partial",
        "11-chars-fully-starred",
        "org-code-fully-starred",
        "short",
        "empty",
        "surrounding-whitespace",
    ],
)
def test_mask_id_number(raw: str, masked: str) -> None:
    assert mask_id_number(raw) == masked


def test_mask_never_leaks_the_middle() -> None:
    masked = mask_id_number("440106199001011234")
    assert "19900101" not in masked
    assert len(masked) == 18
