"""The 法人注册 / 个人注册 field rules (the seed's part 一 (一)), good and bad
values for each, and the Guangdong divisions behind the 证件地址 selects."""

from __future__ import annotations

import datetime as dt

import pytest

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.registration.divisions import cities_of, divisions, is_valid_region
from services.gdzwfw_idp.registration.rules import check_email, check_legal_fields, check_name, check_person_fields
from shared.account_rules import GDZWFW_LOGIN_ACCOUNT_MESSAGE, GDZWFW_PASSWORD_MESSAGE
from shared.sms import MOBILE_MESSAGE
from tests.gdzwfw_idp.journeys import legal_form

TODAY = dt.date(2026, 11, 28)


def errors_of(**overrides: str) -> dict[str, str]:
    return check_legal_fields(legal_form(**overrides), today=TODAY)[1]


def test_a_complete_form_has_no_errors_and_is_normalised() -> None:
    clean, errors = check_legal_fields(legal_form(uscc=" 91440105ma5dla00xw ", org_name=" 广州市海珠区示范物流有限公司 "), today=TODAY)
    assert errors == {}
    assert clean["uscc"] == "91440105MA5DLA00XW"
    assert clean["org_name"] == "广州市海珠区示范物流有限公司"
    assert (clean["province"], clean["city"], clean["district"]) == ("广东省", "广州市", "海珠区")


@pytest.mark.parametrize("value", ["abc_12", "Abcdef1", "a_b_c_d", "12345_", "a" * 19 + "1", "GZ2026wl"])
def test_login_account_good(value: str) -> None:
    assert "login_name" not in errors_of(login_name=value)


@pytest.mark.parametrize(
    "value",
    ["ab1", "abcdefgh", "12345678", "______", "a" * 20 + "1", "abc-123", "张三abc123", "abc 123", "ａｂｃ１２３"],
    ids=["too-short", "letters-only", "digits-only", "underscores-only", "too-long", "hyphen", "chinese", "space", "full-width"],
)
def test_login_account_bad(value: str) -> None:
    assert errors_of(login_name=value)["login_name"] == GDZWFW_LOGIN_ACCOUNT_MESSAGE


@pytest.mark.parametrize("value", ["Abcdef12", "abc@1234", "ABC@1234", "Aa@" + "1" * 17])
def test_password_good(value: str) -> None:
    errors = errors_of(password=value, password_confirm=value)
    assert "password" not in errors and "password_confirm" not in errors


@pytest.mark.parametrize(
    "value",
    ["Ab@1234", "abcdefgh1", "ABCDEFG@", "Aa@" + "1" * 18, "Abc 1234@", "Abc中文1234"],
    ids=["too-short", "two-kinds-lower-digit", "two-kinds-upper-special", "too-long", "space", "chinese"],
)
def test_password_bad(value: str) -> None:
    assert errors_of(password=value, password_confirm=value)["password"] == GDZWFW_PASSWORD_MESSAGE


def test_password_confirmation_must_match() -> None:
    assert errors_of(password_confirm="Reg@2026abd")["password_confirm"] == msg.PASSWORD_MISMATCH
    assert errors_of(password_confirm="")["password_confirm"] == msg.HINT_PASSWORD_CONFIRM


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "请输入统一社会信用代码"),
        ("91440105MA5DLA00X", "统一社会信用代码应为18位"),
        ("91440105MA5DLA00XI", "统一社会信用代码含有不允许的字符（不使用 I、O、Z、S、V）"),
        ("91440105MA5DLA00XA", "统一社会信用代码校验位不正确，请核对后重新输入"),
    ],
    ids=["empty", "short", "letter-I", "checksum"],
)
def test_uscc_bad(value: str, message: str) -> None:
    assert errors_of(uscc=value)["uscc"] == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("44010519820315002", "身份证号码应为18位"),
        ("440105198202300021", "身份证号码的出生日期不存在"),
        ("440105198203150022", "身份证号码校验位不正确"),
        ("440105203003150021", "身份证号码的出生日期不能晚于今天"),
    ],
    ids=["short", "no-such-date", "checksum", "future"],
)
def test_legal_rep_id_bad(value: str, message: str) -> None:
    assert errors_of(legal_rep_id_number=value)["legal_rep_id_number"] == message


def test_legal_rep_id_lowercase_x_is_accepted() -> None:
    from shared.identifiers import _resident_id_check_char

    # A constructed number whose check character is X.
    body = next(b for n in range(1000) if _resident_id_check_char(b := f"44010619920307{n:03d}") == "X")
    clean, errors = check_legal_fields(legal_form(legal_rep_id_number=body + "x"), today=TODAY)
    assert "legal_rep_id_number" not in errors and clean["legal_rep_id_number"] == body + "X"


@pytest.mark.parametrize(
    ("province", "city", "district"),
    [
        ("", "", ""),
        ("广东省", "", ""),
        ("广东省", "广州市", ""),
        ("广东省", "广州市", "南山区"),
        ("湖南省", "长沙市", "岳麓区"),
        ("广东省", "深圳市", "海珠区"),
    ],
    ids=["nothing", "province-only", "no-district", "district-of-another-city", "other-province", "mismatch"],
)
def test_address_region_bad(province: str, city: str, district: str) -> None:
    assert errors_of(province=province, city=city, district=district)["region"] == msg.ADDRESS_REGION_INVALID


@pytest.mark.parametrize(
    ("city", "district"), [("深圳市", "南山区"), ("东莞市", "长安镇"), ("中山市", "石岐街道"), ("清远市", "连南瑶族自治县")]
)
def test_address_region_good(city: str, district: str) -> None:
    assert "region" not in errors_of(city=city, district=district)


@pytest.mark.parametrize("value", ["", " ", "号", "路" * 101])
def test_address_detail_bad(value: str) -> None:
    assert errors_of(address_detail=value)["address_detail"] == msg.ADDRESS_DETAIL_INVALID


@pytest.mark.parametrize("value", ["", "广", "公" * 101])
def test_org_name_bad(value: str) -> None:
    assert errors_of(org_name=value)["org_name"] == msg.ORG_NAME_INVALID


@pytest.mark.parametrize("value", ["张明", "欧阳小明", "买买提·艾力", "John Smith"])
def test_names_good(value: str) -> None:
    assert check_name(value) == value
    assert "legal_rep_name" not in errors_of(legal_rep_name=value)


@pytest.mark.parametrize("value", ["", "张", "张3", "张明!", "·张明", "张" * 31])
def test_names_bad(value: str) -> None:
    assert errors_of(legal_rep_name=value)["legal_rep_name"] == msg.LEGAL_REP_NAME_INVALID


@pytest.mark.parametrize("value", ["", "1381234567", "23812345678", "138123456789", "1381234567a"])
def test_mobile_bad(value: str) -> None:
    assert errors_of(mobile=value)["mobile"] == MOBILE_MESSAGE


def test_agreement_must_be_ticked() -> None:
    assert errors_of(agree=None)["agree"] == msg.AGREEMENT_MISSING
    assert errors_of(agree="no")["agree"] == msg.AGREEMENT_MISSING


def test_personal_fields() -> None:
    form = {
        "login_name": "lin_xh01",
        "password": "Abc@12345",
        "password_confirm": "Abc@12345",
        "person_name": "林小红",
        "id_number": "440106199205120089",
        "mobile": "13700001111",
        "agree": "yes",
    }
    assert check_person_fields(form, today=TODAY)[1] == {}
    _, errors = check_person_fields({**form, "person_name": "林", "id_number": "440106199205120088", "agree": ""}, today=TODAY)
    assert errors == {"person_name": msg.PERSON_NAME_INVALID, "id_number": "身份证号码校验位不正确", "agree": msg.AGREEMENT_MISSING}


@pytest.mark.parametrize(
    ("value", "ok"), [("hr@example.com", True), ("a.b+c@mail.gd.gov.cn", True), ("no-at-sign", False), ("a@b", False), ("a @b.com", False)]
)
def test_email(value: str, ok: bool) -> None:
    assert (check_email(value) is not None) is ok


# -- the divisions ---------------------------------------------------------------
def test_guangdong_has_its_21_prefecture_level_cities() -> None:
    (province,) = divisions()["provinces"]
    assert province["name"] == "广东省" and province["code"] == "440000"
    names = [c["name"] for c in province["cities"]]
    assert len(names) == 21 == len(set(names))
    assert {
        "广州市",
        "深圳市",
        "珠海市",
        "汕头市",
        "佛山市",
        "韶关市",
        "河源市",
        "梅州市",
        "惠州市",
        "汕尾市",
        "东莞市",
        "中山市",
        "江门市",
        "阳江市",
        "湛江市",
        "茂名市",
        "肇庆市",
        "清远市",
        "潮州市",
        "揭阳市",
        "云浮市",
    } == set(names)


def test_city_districts_are_real() -> None:
    guangzhou = next(c for c in cities_of("广东省") if c["name"] == "广州市")
    assert [d["name"] for d in guangzhou["districts"]] == [
        "荔湾区",
        "越秀区",
        "海珠区",
        "天河区",
        "白云区",
        "黄埔区",
        "番禺区",
        "花都区",
        "南沙区",
        "从化区",
        "增城区",
    ]
    shenzhen = next(c for c in cities_of("广东省") if c["name"] == "深圳市")
    assert len(shenzhen["districts"]) == 9 and {"福田区", "南山区", "龙华区", "光明区"} <= {d["name"] for d in shenzhen["districts"]}
    # County-level codes sit under their city's code.
    for city in cities_of("广东省"):
        for district in city["districts"]:
            if "code" in district:
                assert district["code"][:4] == city["code"][:4], (city["name"], district)
    assert is_valid_region("广东省", "韶关市", "乳源瑶族自治县")
    assert not is_valid_region("广东省", "韶关市", "南雄县")
