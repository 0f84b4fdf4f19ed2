"""What the stand-in mini-programs do: play the outside party and nothing more.

The face check approves a one-time session with a person taken from 人口库;
the licence wallet signs an assertion with the licence authority's
development key and posts it through the same code path as the real callback
(``verification.licence.assertions.accept_assertion``), where it is checked in full.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.gdzwfw_idp import messages as msg
from services.gdzwfw_idp.models import LegalPersonRecord, PersonRecord
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.qr.codes import masked_person
from services.gdzwfw_idp.registry import LIVING, check_person
from services.gdzwfw_idp.verification.licence.assertions import accept_assertion
from services.gdzwfw_idp.verification.licence.verifier import sign_assertion

__all__ = ["WRONG_SCOPE", "gone", "people", "living_units", "approve_face", "confirm_licence"]

WRONG_SCOPE = "电子政务-市场监管-其他事项"


def gone(idp: IdpParts, kind: str, sid: str) -> str:
    """Why a QR session is no longer pending."""
    return msg.QR_USED if idp.qr.was_used(kind, sid) else msg.QR_EXPIRED


def people(idp: IdpParts) -> list[tuple[str, str]]:
    """人口库 as the face check offers it: (ID number, masked name and number)."""
    with idp.db.transaction() as db:
        rows = list(db.execute(select(PersonRecord).order_by(PersonRecord.name)).scalars())
        db.expunge_all()
    return [(p.id_number, masked_person(p.name, p.id_number)) for p in rows]


def living_units(idp: IdpParts) -> list[LegalPersonRecord]:
    with idp.db.transaction() as db:
        units = list(
            db.execute(select(LegalPersonRecord).where(LegalPersonRecord.status == LIVING).order_by(LegalPersonRecord.org_name)).scalars()
        )
        db.expunge_all()
    return units


def approve_face(idp: IdpParts, *, sid: str, id_number: str) -> tuple[str | None, str | None]:
    """(the masked person approved, None) or (None, why not)."""
    with idp.db.transaction() as db:
        person = db.get(PersonRecord, id_number)
        if person is None or check_person(db, id_number=person.id_number, name=person.name):
            return None, "人脸识别未通过：人口库中无此人"
        name, id_number = person.name, person.id_number
    outcome = idp.qr.approve("face", sid, {"name": name, "id_number": id_number})
    if outcome != "approved":
        return None, msg.QR_USED if outcome == "used" else msg.QR_EXPIRED
    return masked_person(name, id_number), None


def confirm_licence(idp: IdpParts, *, sid: str, uscc: str, scope: str) -> tuple[str | None, str | None]:
    """(the wallet's message, None) or (None, why not)."""
    key_file = idp.settings.dev_licence_private_key_file()
    if key_file is None:
        return None, "未找到开发环境的电子营业执照签名密钥，请先运行 python -m devtools.certs"
    with idp.db.transaction() as db:
        unit = db.get(LegalPersonRecord, uscc)
        if unit is None:
            return None, "请选择电子营业执照"
        claims = {"uscc": unit.uscc, "org_name": unit.org_name, "legal_rep_name": unit.legal_rep_name}
    now = idp.clock.timestamp()
    token = sign_assertion(
        key_file.read_bytes(),
        {
            "iss": idp.settings.licence_authority_issuer,
            "aud": idp.settings.public_url,
            "sid": sid,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 120,
            "scope": scope,
            **claims,
        },
    )
    accepted = accept_assertion(idp, token=token, sid=sid)
    return (accepted.message, None) if accepted.ok else (None, accepted.message)
