"""网银证书 / CA证书核验 pages: the challenge to sign, and the signed answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from services.gdzwfw_idp.deps import FormDep, IdpDep, OwnerDep, VerifyingLegalPerson
from services.gdzwfw_idp.flash import flash
from services.gdzwfw_idp.login.sessions import Current
from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.verification.certificate import service
from services.gdzwfw_idp.verification.certificate.challenge import issue_challenge
from services.gdzwfw_idp.verification.certificate.verifier import KINDS
from services.gdzwfw_idp.verification.records import actor_of
from shared.web.app import render
from shared.web.deps import Refused

__all__ = ["router", "certificate_kind"]

router = APIRouter(include_in_schema=False)


async def certificate_kind(kind: str) -> str:
    """``bank`` or ``ca``; any other is a page that does not exist."""
    if kind not in KINDS:
        raise Refused("您访问的页面不存在", status_code=404)
    return kind


CertificateKind = Annotated[str, Depends(certificate_kind)]


async def page_context(idp: IdpParts, *, owner: str, me: Current, kind: str, error: str | None = None) -> dict[str, Any]:
    """The page with a new challenge (each showing issues one)."""
    return {
        "me": me,
        "account": me.account,
        "kind": kind,
        "method": kind,
        "method_name": service.METHODS[kind],
        "cert_label": KINDS[kind],
        "target": service.LEVELS[kind],
        "challenge": await issue_challenge(idp, owner=owner, purpose=f"{kind}-verify"),
        "configured": idp.certificates.configured(kind),
        "dev_certs": idp.settings.is_development,
        "ca_helper": idp.settings.ca_helper,
        "error": error,
        "section": "verification",
    }


@router.get("/account/verification/{kind}")
async def certificate_page(request: Request, kind: CertificateKind, me: VerifyingLegalPerson, owner: OwnerDep, idp: IdpDep) -> Response:
    ctx = await page_context(idp, owner=owner, me=me, kind=kind)
    return render(request, "verify_certificate.html", ctx)


@router.post("/account/verification/{kind}")
async def certificate_submit(
    request: Request, form: FormDep, kind: CertificateKind, me: VerifyingLegalPerson, owner: OwnerDep, idp: IdpDep
) -> Response:
    error = await run_in_threadpool(
        lambda: service.upgrade(
            idp,
            owner=owner,
            account_id=me.account.id,
            uscc=me.account.uscc,
            kind=kind,
            nonce=form.get("nonce", ""),
            response=form.get("response", ""),
            actor=actor_of(me.account.login_name),
        )
    )
    if error:
        ctx = await page_context(idp, owner=owner, me=me, kind=kind, error=error)
        return render(request, "verify_certificate.html", ctx, status_code=400)
    flash(request, f"{service.METHODS[kind]}成功。核验后可使用“{KINDS[kind]}”方式登录。")
    return RedirectResponse("/account/verification", status_code=303)
