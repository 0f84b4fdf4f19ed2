"""Steps the hrss_isso tests repeat: register, log in, bind, apply, approve,
and the OIDC round trip of demo-rp through a handler's personal login."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.hrss_isso.demo import DEMO_STAFF_TOTP
from services.hrss_isso.models import Person, Unit, UnitBinding
from shared.totp import totp
from tests.hrss_isso.conftest import DEMO_PASSWORD, Isso, csrf_of
from tests.oidc_helpers import DEMO_RP, Pkce, authorize_params, decode_id_token, query_of

__all__ = [
    "PDF",
    "PNG",
    "JPEG",
    "GOOD_PASSWORD",
    "register_person",
    "person_form",
    "unit_form",
    "unit_id",
    "person_id",
    "binding_of",
    "materials",
    "handler_tokens",
    "unit_tokens",
    "id_claims",
    "staff_login",
    "staff_code",
]

GOOD_PASSWORD = "Gzhr@2026x"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000185d114090000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def person_form(**overrides: str) -> dict[str, str]:
    form = {
        "name": "周婷",
        "id_number": "44010619950214006X",
        "mobile": "13700137001",
        "login_name": "zhouting",
        "password": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        "action": "submit",
    }
    form.update(overrides)
    return form


def register_person(isso: Isso, browser: TestClient | None = None, **overrides: str):
    """个人注册 way 1 with a real SMS code from the outbox."""
    browser = browser or isso.new_browser()
    form = person_form(**overrides)
    sent = isso.send_sms("/isso/register/person", "mobile", form["mobile"], browser=browser)
    assert sent.status_code == 200, sent.text
    form["sms_code"] = isso.sms_code(form["mobile"])
    return isso.post_form("/isso/register/person", form, browser=browser)


def unit_form(**overrides: str) -> dict[str, str]:
    form = {
        "cert_type": "uscc",
        "cert_number": "91440101MA9XY7008U",
        "org_name": "广州市海珠区示范服务有限公司",
        "region_code": "440100",
        "address": "广州市海珠区新港东路1号",
        "legal_rep_name": "郑浩",
        "legal_rep_id_type": "居民身份证（户口簿）",
        "legal_rep_id_number": "440106199309090099",
        "legal_rep_mobile": "13600136001",
        "login_name": "haizhu_fuwu",
        "password": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        "action": "submit",
    }
    form.update(overrides)
    return form


def unit_id(isso: Isso, unit_code: str) -> str:
    with isso.db() as s:
        return s.execute(select(Unit.id).where(Unit.unit_code == unit_code)).scalar_one()


def person_id(isso: Isso, login_name: str) -> str:
    with isso.db() as s:
        return s.execute(select(Person.id).where(Person.login_name == login_name)).scalar_one()


def binding_of(isso: Isso, login_name: str, unit_code: str) -> UnitBinding | None:
    with isso.db() as s:
        binding = s.execute(
            select(UnitBinding).where(UnitBinding.person_id == person_id(isso, login_name), UnitBinding.unit_id == unit_id(isso, unit_code))
        ).scalar_one_or_none()
        if binding is not None:
            s.expunge(binding)
        return binding


def materials(licence=("营业执照.pdf", PDF), id_document=("身份证.png", PNG), mandate=("委托书.jpg", JPEG)) -> list:
    files = []
    for kind, item in (("licence", licence), ("id_document", id_document), ("mandate", mandate)):
        if item is not None:
            files.append((kind, (item[0], item[1], "application/octet-stream")))
    return files


def staff_code(isso: Isso, secret: str) -> str:
    """The staff member's current 动态口令, in a time step of its own: each
    code is accepted once, so every login moves the clock on one step."""
    isso.clock.advance(30)
    return totp(secret, isso.clock.timestamp())


def staff_login(isso: Isso, login_name: str = "staff_review", browser: TestClient | None = None) -> TestClient:
    browser = browser or isso.new_browser()
    form = {"login_name": login_name, "password": DEMO_PASSWORD, "totp": staff_code(isso, DEMO_STAFF_TOTP[login_name])}
    response = isso.post_form("/isso/staff/login", form, browser=browser)
    assert response.status_code == 303, response.text[:500]
    return browser


def handler_tokens(
    isso: Isso,
    login_name: str,
    unit_code: str,
    *,
    browser: TestClient | None = None,
    password: str = DEMO_PASSWORD,
    client: tuple[str, str] = DEMO_RP,
    **extra: str,
) -> dict:
    """demo-rp (or ``client``) → /authorize → 个人登录 (账号密码) → 选择单位 → code → tokens."""
    browser = browser or isso.new_browser()
    pkce = Pkce.new()
    first = browser.get("/isso/authorize", params=authorize_params(pkce, **{"client_id": client[0], **extra}), follow_redirects=False)
    assert first.status_code == 303, first.text[:300]
    interaction = query_of(first)["interaction"]
    login = isso.login(login_name, password, browser=browser, interaction=interaction)
    assert login.status_code == 303 and "/isso/login/units" in login.headers["location"], login.text[:500]
    chooser = browser.get(login.headers["location"])
    assert chooser.status_code == 200
    chosen = browser.post(
        "/isso/login/units",
        data={"csrf_token": csrf_of(chooser.text), "interaction": interaction, "unit_id": unit_id(isso, unit_code)},
        follow_redirects=False,
    )
    assert chosen.status_code == 303, chosen.text[:500]
    done = browser.get(chosen.headers["location"], follow_redirects=False)
    assert done.status_code == 302, done.text[:500]
    code = query_of(done)["code"]
    token = browser.post(
        "/isso/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:8099/cb", "code_verifier": pkce.verifier},
        auth=client,
    )
    assert token.status_code == 200, token.text
    return token.json()


def unit_tokens(
    isso: Isso,
    login_name: str,
    password: str = DEMO_PASSWORD,
    *,
    browser: TestClient | None = None,
    auth: tuple[str, str] = DEMO_RP,
    **extra: str,
) -> dict:
    """demo-rp (or the client ``auth`` names) → /authorize → 单位登录 (账号密码) → code → tokens."""
    browser = browser or isso.new_browser()
    pkce = Pkce.new()
    first = browser.get("/isso/authorize", params=authorize_params(pkce, **{"client_id": auth[0], **extra}), follow_redirects=False)
    interaction = query_of(first)["interaction"]
    login = isso.login(login_name, password, tab="unit", browser=browser, interaction=interaction)
    assert login.status_code == 303 and "/authorize/resume" in login.headers["location"], login.text[:500]
    done = browser.get(login.headers["location"], follow_redirects=False)
    token = browser.post(
        "/isso/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(done)["code"],
            "redirect_uri": "http://127.0.0.1:8099/cb",
            "code_verifier": pkce.verifier,
        },
        auth=auth,
    )
    assert token.status_code == 200, token.text
    return token.json()


def id_claims(isso: Isso, tokens: dict) -> dict:
    return decode_id_token(tokens["id_token"], isso.client.get("/isso/jwks.json").json())
