"""The 法人注册 wizard's state, and the 申请人 the face check found.

Both live in the shared store under this browser's owner value, not in the
session dict: the page polls while the user types, and a session written by
one request must not undo what another wrote a moment earlier. Abandoning the
wizard leaves nothing in the account tables; passwords are kept here only as
their argon2 hash.
"""

from __future__ import annotations

from typing import Any

from services.gdzwfw_idp.parts import IdpParts

__all__ = ["load_wizard", "save_wizard", "clear_wizard", "face_result", "take_face_check"]


def _wizard_key(owner: str) -> str:
    return f"reg-wizard:{owner}"


def _face_key(owner: str) -> str:
    return f"reg-face:{owner}"


def load_wizard(idp: IdpParts, *, owner: str) -> dict[str, Any]:
    """The wizard as it was left (a fresh one after ``wizard_ttl``), with the applicant once found."""
    wizard = idp.kv.get(_wizard_key(owner)) or {}
    now = idp.clock.timestamp()
    if not wizard.get("started") or now - int(wizard["started"]) > idp.settings.wizard_ttl:
        wizard = {"started": now}
    if "applicant" not in wizard and (applicant := face_result(idp, owner=owner)):
        wizard["applicant"] = applicant
    return wizard


def save_wizard(idp: IdpParts, *, owner: str, wizard: dict[str, Any]) -> None:
    idp.kv.set(_wizard_key(owner), wizard, idp.settings.wizard_ttl)


def clear_wizard(idp: IdpParts, *, owner: str) -> None:
    idp.kv.delete(_wizard_key(owner))
    idp.kv.delete(_face_key(owner))


def face_result(idp: IdpParts, *, owner: str) -> dict[str, str] | None:
    return idp.kv.get(_face_key(owner))


def take_face_check(idp: IdpParts, *, owner: str, sid: str) -> dict[str, str] | None:
    """Claim an approved face check once: the person becomes the wizard's
    申请人. None when it was claimed already."""
    claimed = idp.qr.claim("face", sid, owner=owner)
    if claimed is None:
        return None
    result, _ = claimed
    applicant = {"name": result["name"], "id_number": result["id_number"]}
    idp.kv.set(_face_key(owner), applicant, idp.settings.wizard_ttl)
    return applicant
