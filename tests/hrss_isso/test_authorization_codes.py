"""经办人实名授权绑定 (3)–(5): 申请单位授权码 with uploaded materials, the
agency's review in its console (role-checked; approve, reject with a reason,
线下申请 at the window), the code by SMS, and 授权码实名."""

from __future__ import annotations

import threading
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.hrss_isso import messages as msg
from services.hrss_isso.demo import DEMO_AUTHORIZATION_CODE, DEMO_STAFF_TOTP
from services.hrss_isso.forms import FormRejected
from services.hrss_isso.models import AuditEntry, AuthorizationApplication, Material, MaterialContent, UnitBinding
from tests.hrss_isso.conftest import Isso, csrf_of
from tests.hrss_isso.flows import (
    JPEG,
    PDF,
    PNG,
    binding_of,
    handler_tokens,
    id_claims,
    materials,
    person_id,
    staff_code,
    staff_login,
    unit_id,
)
from tests.streamed_body import post_streamed

APPLY = "/isso/realname/apply"
CODE = "/isso/realname/code"


def _enter(isso: Isso, login_name: str, unit_code: str) -> TestClient:
    """A handler's personal login, acting for ``unit_code``."""
    browser = isso.new_browser()
    assert isso.login(login_name, browser=browser).status_code == 303
    assert isso.choose_unit(unit_id(isso, unit_code), browser=browser).status_code == 303
    return browser


def _apply(isso: Isso, browser: TestClient, unit_codes: list[str], files=None):
    page = browser.get(APPLY)
    data = {"csrf_token": csrf_of(page.text), "unit_id": [unit_id(isso, code) for code in unit_codes]}
    return browser.post(APPLY, data=data, files=materials() if files is None else files, follow_redirects=False)


def _applications(isso: Isso, login_name: str) -> list[AuthorizationApplication]:
    with isso.db() as s:
        rows = list(
            s.execute(select(AuthorizationApplication).where(AuthorizationApplication.person_id == person_id(isso, login_name))).scalars()
        )
        s.expunge_all()
        return rows


def _stored_files(isso: Isso) -> list[str]:
    """The materials whose bytes are stored (in the database, any replica's to serve)."""
    with isso.db() as s:
        return sorted(s.execute(select(MaterialContent.material_id)).scalars())


def _code(isso: Isso, browser: TestClient, code: str):
    page = browser.get("/isso/login?tab=unit&method=password")
    return browser.post(CODE, data={"csrf_token": csrf_of(page.text), "code": code}, follow_redirects=False)


def _review(isso: Isso, staff: TestClient, application_id: str, action: str, **data):
    page = staff.get("/isso/staff/login")
    return staff.post(
        f"/isso/staff/applications/{application_id}/{action}", data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False
    )


# -- the whole path -------------------------------------------------------------------
def test_apply_review_sms_and_code_make_the_handler_act_at_l2(isso: Isso) -> None:
    handler = _enter(isso, "chenxiao", "44010600001")
    assert "三级（原L1）" in handler.get("/isso/").text
    found = handler.get(APPLY, params={"field": "unit_code", "q": "44010600001"})
    assert "广州市天河区示范科技有限公司" in found.text and "广州市越秀区示范贸易有限公司" not in found.text
    by_org_code = handler.get(APPLY, params={"field": "org_code", "q": "MA5DL1A17"})
    assert "广州市天河区示范科技有限公司" in by_org_code.text
    by_uscc = handler.get(APPLY, params={"field": "uscc", "q": "91440106MA5DL1A170"})
    assert "广州市天河区示范科技有限公司" in by_uscc.text
    submitted = _apply(isso, handler, ["44010600001"])
    assert submitted.status_code == 303, submitted.text[:2000]
    assert msg.APPLICATION_SUBMITTED in handler.get("/isso/realname/applications").text
    [app] = [a for a in _applications(isso, "chenxiao") if a.status == "submitted"]
    assert len(_stored_files(isso)) == 3 + 3  # this application's three, plus the demo application's three
    with isso.db() as s:
        kinds = {m.kind: m for m in s.execute(select(Material).where(Material.batch_id == app.batch_id)).scalars()}
    assert set(kinds) == {"licence", "id_document", "mandate"}
    assert (kinds["licence"].content_type, kinds["id_document"].content_type, kinds["mandate"].content_type) == (
        "application/pdf",
        "image/png",
        "image/jpeg",
    )
    with isso.db() as s:
        assert s.get(MaterialContent, kinds["licence"].id).data == PDF

    staff = staff_login(isso)
    listing = staff.get("/isso/staff/applications")
    assert "广州市天河区示范科技有限公司" in listing.text and "陈晓" in listing.text
    detail = staff.get(f"/isso/staff/applications/{app.id}")
    assert "营业执照或登记证书" in detail.text and "440106199007150041" in detail.text
    download = staff.get(f"/isso/staff/materials/{kinds['licence'].id}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;") and download.headers["x-content-type-options"] == "nosniff"

    assert _review(isso, staff, app.id, "approve").status_code == 303
    code = isso.authorization_code("13800138001")
    assert "广州市天河区示范科技有限公司" in isso.outbox("13800138001")[0]
    with isso.db() as s:
        assert s.execute(select(AuditEntry.actor_type, AuditEntry.action).where(AuditEntry.target == f"application:{app.id}")).one() == (
            "staff",
            "authcode.approve",
        )

    done = _code(isso, handler, code.lower())  # typed in lower case: still the code
    assert done.status_code == 303
    assert msg.CODE_DONE in handler.get(CODE).text
    assert binding_of(isso, "chenxiao", "44010600001").authorized_at is not None
    assert "四级（原L2）" in handler.get("/isso/").text
    claims = id_claims(isso, handler_tokens(isso, "chenxiao", "44010600001"))
    assert claims["acr"] == "urn:gdzwfw:loa:L2" and claims["act"]["name"] == "陈晓"


# -- uploads ------------------------------------------------------------------------------
def test_materials_uploaded_at_one_replica_are_served_by_another(make_isso) -> None:
    replica_a = make_isso()
    replica_b = make_isso(replica_of=replica_a)  # no disk in common: only the database
    handler = _enter(replica_a, "chenxiao", "44010600001")
    assert _apply(replica_a, handler, ["44010600001"]).status_code == 303
    [app] = [a for a in _applications(replica_a, "chenxiao") if a.status == "submitted"]
    with replica_a.db() as s:
        licence = s.execute(select(Material).where(Material.batch_id == app.batch_id, Material.kind == "licence")).scalar_one()
    staff = staff_login(replica_b)
    download = staff.get(f"/isso/staff/materials/{licence.id}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"

    with replica_a.db() as s:  # bytes altered in storage are not served as the upload
        s.get(MaterialContent, licence.id).data = PDF.replace(b"%%EOF", b"%%EOF ")
    altered = staff.get(f"/isso/staff/materials/{licence.id}")
    assert altered.status_code == 404 and "材料文件不存在" in altered.text


def test_an_upload_whose_content_is_not_what_its_name_claims_is_refused(isso: Isso) -> None:
    handler = _enter(isso, "chenxiao", "44010600001")
    before = (_stored_files(isso), len(_applications(isso, "chenxiao")))
    cases = [
        (("营业执照.pdf", PNG), "licence", "文件内容与文件名不符（文件名为.pdf，内容为PNG图片），请上传真实的材料文件"),
        (("身份证.png", b"MZ\x90\x00 not an image at all"), "id_document", msg.UPLOAD_BAD_CONTENT),
        (("委托书.exe", PDF), "mandate", msg.UPLOAD_BAD_EXTENSION),
        (("营业执照.pdf", b"%PDF-1.4 truncated without an end"), "licence", msg.UPLOAD_BAD_CONTENT),
        (("委托书.jpg", PNG), "mandate", "文件内容与文件名不符（文件名为.jpg，内容为PNG图片），请上传真实的材料文件"),
    ]
    for item, kind, message in cases:
        response = _apply(isso, handler, ["44010600001"], files=materials(**{kind: item}))
        assert response.status_code == 400, kind
        assert f'<div class="field-error" id="{kind}-error" role="alert">{message}</div>' in response.text
    missing = _apply(isso, handler, ["44010600001"], files=materials(mandate=None))
    assert 'id="mandate-error" role="alert">请上传单位委托书（盖单位公章）<' in missing.text
    assert (_stored_files(isso), len(_applications(isso, "chenxiao"))) == before


def test_an_upload_that_is_too_large_is_refused(make_isso) -> None:
    isso = make_isso(upload_max_bytes=4096)
    handler = _enter(isso, "chenxiao", "44010600001")
    before = (_stored_files(isso), len(_applications(isso, "chenxiao")))
    big = PDF[:-7] + b"0" * 5000 + b"\n%%EOF\n"
    response = _apply(isso, handler, ["44010600001"], files=materials(licence=("营业执照.pdf", big)))
    assert response.status_code == 400 and 'id="licence-error" role="alert">文件大小不能超过4KB<' in response.text
    huge = b"%PDF-" + b"0" * (3 * 4096 + 300 * 1024)
    refused = _apply(isso, handler, ["44010600001"], files=materials(licence=("营业执照.pdf", huge)))
    assert refused.status_code == 413 and "上传的材料总大小超出限制" in refused.text
    assert (_stored_files(isso), len(_applications(isso, "chenxiao"))) == before


def test_only_bound_units_without_a_pending_application_can_be_applied_for(isso: Isso) -> None:
    chen = _enter(isso, "chenxiao", "44010600001")
    none = _apply(isso, chen, [])
    assert none.status_code == 400 and msg.CHOOSE_UNITS in none.text
    unbound = _apply(isso, chen, ["44010300003"])
    assert unbound.status_code == 400 and msg.ONLY_BOUND_UNITS in unbound.text
    authorised = _apply(isso, chen, ["44010400002"])
    assert authorised.status_code == 400 and msg.ALREADY_AUTHORIZED in authorised.text
    zhao = _enter(isso, "zhaolei", "44010300003")
    pending = _apply(isso, zhao, ["44010300003"])
    assert pending.status_code == 400 and msg.APPLICATION_PENDING in pending.text
    sun = _enter(isso, "sunli", "44010300003")
    unused = _apply(isso, sun, ["44010300003"])
    assert unused.status_code == 400 and msg.UNUSED_CODE_EXISTS in unused.text
    # Units not bound to the handler are never offered by the search.
    assert "广州市荔湾区示范制造有限公司" not in chen.get(APPLY, params={"field": "unit_code", "q": "44010300003"}).text


def test_several_units_in_one_application_share_the_materials(isso: Isso) -> None:
    with isso.db() as s:
        s.add(
            UnitBinding(
                unit_id=unit_id(isso, "44010300003"), person_id=person_id(isso, "chenxiao"), status="active", requested_at=isso.clock.now()
            )
        )
    chen = _enter(isso, "chenxiao", "44010600001")
    assert _apply(isso, chen, ["44010600001", "44010300003"]).status_code == 303
    submitted = [a for a in _applications(isso, "chenxiao") if a.status == "submitted"]
    assert len(submitted) == 2 and len({a.batch_id for a in submitted}) == 1
    assert isso.count(Material, Material.batch_id == submitted[0].batch_id) == 3


# -- the agency's console --------------------------------------------------------------------
def _pending_demo_application(isso: Isso) -> AuthorizationApplication:
    [app] = _applications(isso, "zhaolei")
    return app


def test_a_staff_action_by_a_user_without_the_role_is_refused(isso: Isso) -> None:
    app = _pending_demo_application(isso)
    viewer = staff_login(isso, "staff_viewer")
    assert "赵磊" in viewer.get("/isso/staff/applications").text  # may look
    # ...and is offered no action the server would refuse.
    detail = viewer.get(f"/isso/staff/applications/{app.id}")
    assert detail.status_code == 200 and 'id="view-only"' in detail.text
    for control in ('id="approve"', 'id="reject"', "/approve", "/reject"):
        assert control not in detail.text, control
    window_page = viewer.get("/isso/staff/window")
    assert 'id="view-only"' in window_page.text and 'id="window-submit"' not in window_page.text
    reviewer = staff_login(isso, "staff_review")
    assert 'id="approve"' in reviewer.get(f"/isso/staff/applications/{app.id}").text
    assert 'id="window-submit"' in reviewer.get("/isso/staff/window").text
    for action, data in (("approve", {}), ("reject", {"reason": "材料不清晰"})):
        response = _review(isso, viewer, app.id, action, **data)
        assert response.status_code == 403 and msg.NO_REVIEW_ROLE in response.text
    window = viewer.post(
        "/isso/staff/window",
        data={
            "csrf_token": csrf_of(window_page.text),
            "id_number": "440106199007150041",
            "unit_field": "unit_code",
            "unit_value": "44010600001",
            "checked": ["licence", "id_document", "mandate"],
        },
    )
    assert window.status_code == 403
    assert _pending_demo_application(isso).status == "submitted"
    assert isso.outbox("13800138004") == [] and len(_applications(isso, "chenxiao")) == 1
    # A handler's or a unit's session is no staff session at all.
    handler = _enter(isso, "zhaolei", "44010300003")
    assert handler.get("/isso/staff/applications", follow_redirects=False).headers["location"] == "/isso/staff/login"
    material_id = viewer.get(f"/isso/staff/applications/{app.id}").text.split("/isso/staff/materials/")[1].split('"')[0]
    assert handler.get(f"/isso/staff/materials/{material_id}", follow_redirects=False).status_code == 303


def test_staff_login_is_locked_after_wrong_passwords(isso: Isso) -> None:
    secret = DEMO_STAFF_TOTP["staff_review"]
    for _ in range(isso.settings.login_max_failures):
        isso.post_form("/isso/staff/login", {"login_name": "staff_review", "password": "Wrong@pass26", "totp": staff_code(isso, secret)})
    right = {"login_name": "staff_review", "password": "Hrss@demo2026", "totp": staff_code(isso, secret)}
    locked = isso.post_form("/isso/staff/login", right)
    assert locked.status_code == 400 and "账号已被锁定" in locked.text


def test_a_rejection_needs_a_reason_and_tells_the_handler(isso: Isso) -> None:
    app = _pending_demo_application(isso)
    staff = staff_login(isso)
    blank = _review(isso, staff, app.id, "reject", reason="  ")
    assert blank.status_code == 400 and msg.REJECT_REASON_REQUIRED in blank.text
    assert _pending_demo_application(isso).status == "submitted"
    assert _review(isso, staff, app.id, "reject", reason="单位委托书未加盖公章").status_code == 303
    rejected = _pending_demo_application(isso)
    assert rejected.status == "rejected" and rejected.reason == "单位委托书未加盖公章" and rejected.code_hash is None
    assert "未通过审核，原因：单位委托书未加盖公章" in isso.outbox("13800138004")[0]
    twice = _review(isso, staff, app.id, "approve")
    assert twice.status_code == 409 and msg.APPLICATION_ALREADY_REVIEWED in twice.text
    handler = _enter(isso, "zhaolei", "44010300003")
    assert "单位委托书未加盖公章" in handler.get("/isso/realname/applications").text
    # A rejected application may be followed by a new one.
    assert _apply(isso, handler, ["44010300003"]).status_code == 303


def test_the_window_path_creates_an_approved_application(isso: Isso) -> None:
    staff = staff_login(isso)

    def window(**data):
        page = staff.get("/isso/staff/window")
        form = {
            "csrf_token": csrf_of(page.text),
            "id_number": "440106199007150041",
            "unit_field": "unit_code",
            "unit_value": "44010600001",
            "checked": ["licence", "id_document", "mandate"],
        }
        form.update(data)
        return staff.post("/isso/staff/window", data=form, follow_redirects=False)

    unchecked = window(checked=["licence"])
    assert unchecked.status_code == 400 and msg.WINDOW_MATERIALS_REQUIRED in unchecked.text
    nobody = window(id_number="440106198001010019")
    assert nobody.status_code == 400 and msg.WINDOW_PERSON_NOT_FOUND in nobody.text
    no_unit = window(unit_value="44019900009")
    assert no_unit.status_code == 400 and msg.WINDOW_UNIT_NOT_FOUND in no_unit.text
    assert len(_applications(isso, "chenxiao")) == 1
    done = window(unit_field="uscc", unit_value="91440106MA5DL1A170")
    assert done.status_code == 303
    [app] = [a for a in _applications(isso, "chenxiao") if a.channel == "window"]
    assert app.status == "approved" and app.reviewer_id is not None
    code = isso.authorization_code("13800138001")
    handler = _enter(isso, "chenxiao", "44010600001")
    assert _code(isso, handler, code).status_code == 303
    assert binding_of(isso, "chenxiao", "44010600001").authorization_id == app.id


# -- 授权码实名 ------------------------------------------------------------------------------
def test_an_authorisation_code_wrong_or_of_another_handler_is_refused(isso: Isso) -> None:
    sun = _enter(isso, "sunli", "44010300003")
    page = sun.get(CODE)
    assert "授权码实名" in page.text and "广州市荔湾区示范制造有限公司" in page.text and "未完成授权码实名" in page.text
    wrong = _code(isso, sun, "ABCD2345")
    assert wrong.status_code == 400 and f'id="code-error" role="alert">{msg.CODE_WRONG}<' in wrong.text
    # 孙丽's code typed by 赵磊, bound to the same unit: not his code.
    zhao = _enter(isso, "zhaolei", "44010300003")
    assert msg.CODE_WRONG in _code(isso, zhao, DEMO_AUTHORIZATION_CODE).text
    assert binding_of(isso, "zhaolei", "44010300003").authorized_at is None
    assert _code(isso, sun, DEMO_AUTHORIZATION_CODE).status_code == 303
    assert binding_of(isso, "sunli", "44010300003").authorized_at is not None


def test_an_authorisation_code_is_single_use(isso: Isso) -> None:
    sun = _enter(isso, "sunli", "44010300003")
    assert _code(isso, sun, DEMO_AUTHORIZATION_CODE).status_code == 303
    reused = _code(isso, sun, DEMO_AUTHORIZATION_CODE)
    assert reused.status_code == 400 and f'id="code-error">{msg.CODE_USED}<' in reused.text


def test_an_authorisation_code_entered_for_another_unit_is_refused(isso: Isso) -> None:
    staff = staff_login(isso)
    page = staff.get("/isso/staff/window")
    staff.post(
        "/isso/staff/window",
        data={
            "csrf_token": csrf_of(page.text),
            "id_number": "440106199007150041",
            "unit_field": "unit_code",
            "unit_value": "44010600001",
            "checked": ["licence", "id_document", "mandate"],
        },
    )
    code = isso.authorization_code("13800138001")  # for 天河
    for_yuexiu = _enter(isso, "chenxiao", "44010400002")
    other = _code(isso, for_yuexiu, code)
    assert other.status_code == 400 and msg.CODE_OTHER_UNIT in other.text
    assert binding_of(isso, "chenxiao", "44010600001").authorized_at is None
    # Not yet acting for any unit: nothing to enter a code for.
    bare = isso.new_browser()
    isso.login("chenxiao", browser=bare)
    assert msg.CODE_NEEDS_UNIT in bare.get(CODE).text
    assert msg.CODE_NEEDS_UNIT in _code(isso, bare, code).text


def test_an_unused_authorisation_code_expires(isso: Isso) -> None:
    app = _pending_demo_application(isso)
    staff = staff_login(isso)
    assert _review(isso, staff, app.id, "approve").status_code == 303
    code = isso.authorization_code("13800138004")
    isso.clock.advance(isso.settings.authorization_code_ttl_days * 86400 + 1)
    zhao = _enter(isso, "zhaolei", "44010300003")
    expired = _code(isso, zhao, code)
    assert expired.status_code == 400 and msg.CODE_EXPIRED in expired.text
    assert "授权码已过期" in zhao.get("/isso/realname/applications").text
    assert binding_of(isso, "zhaolei", "44010300003").authorized_at is None
    # An expired code no longer blocks a new application.
    assert _apply(isso, zhao, ["44010300003"]).status_code == 303


def test_wrong_codes_are_limited(isso: Isso) -> None:
    sun = _enter(isso, "sunli", "44010300003")
    for _ in range(isso.settings.check_max_failures):
        assert msg.CODE_WRONG in _code(isso, sun, "ZZZZ2345").text
    blocked = _code(isso, sun, DEMO_AUTHORIZATION_CODE)
    assert "尝试次数过多" in blocked.text
    assert binding_of(isso, "sunli", "44010300003").authorized_at is None


def test_two_entries_of_one_code_at_once_complete_it_once(isso: Isso) -> None:
    authorizations = isso.app.state.isso.authorizations
    sun, unit = person_id(isso, "sunli"), unit_id(isso, "44010300003")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def enter() -> None:
        barrier.wait()
        try:
            authorizations.enter_code(person_id=sun, unit_id=unit, code=DEMO_AUTHORIZATION_CODE)
            outcomes.append("ok")
        except FormRejected as rejected:
            outcomes.append(rejected.errors["code"])

    threads = [threading.Thread(target=enter) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted(["ok", msg.CODE_USED])
    assert isso.count(AuditEntry, AuditEntry.action == "authcode.enter") == 1
    assert uuid.UUID(unit)  # ids are uuid hex


def test_jpeg_materials_are_accepted(isso: Isso) -> None:
    handler = _enter(isso, "chenxiao", "44010600001")
    response = _apply(isso, handler, ["44010600001"], files=materials(licence=("营业执照.JPEG", JPEG), id_document=("身份证.jpg", JPEG)))
    assert response.status_code == 303


def test_a_new_code_for_the_same_pair_replaces_the_unused_one(isso: Isso) -> None:
    staff = staff_login(isso)
    page = staff.get("/isso/staff/window")
    issued = staff.post(
        "/isso/staff/window",
        data={
            "csrf_token": csrf_of(page.text),
            "id_number": "440304198701010050",
            "unit_field": "unit_code",
            "unit_value": "44010300003",
            "checked": ["licence", "id_document", "mandate"],
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303
    new_code = isso.authorization_code("13800138005")
    sun = _enter(isso, "sunli", "44010300003")
    assert msg.CODE_EXPIRED in _code(isso, sun, DEMO_AUTHORIZATION_CODE).text
    assert _code(isso, sun, new_code).status_code == 303


def test_an_anonymous_upload_is_refused_before_its_body_is_read(isso: Isso) -> None:
    answer = post_streamed(isso.new_browser(), APPLY, chunks=300)
    assert answer.status == 303 and answer.chunks_read == 0


def test_a_streamed_upload_over_the_cap_gets_413_unread_past_it(make_isso) -> None:
    isso = make_isso(upload_max_bytes=4096)
    handler = _enter(isso, "chenxiao", "44010600001")
    # No Content-Length: the cap (3 × 4 KB + 256 KB) counts what arrives.
    answer = post_streamed(handler, APPLY, chunks=300)
    assert answer.status == 413 and "上传的材料总大小超出限制" in answer.body.decode()
    assert answer.chunks_read <= 5
