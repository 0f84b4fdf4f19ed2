"""The certificate challenge's life: issued with the page, taken once on submit.

A challenge is bound to the browser that was shown it and to its purpose
(``bank-verify``, ``ca-verify``, ``bank-login``, ``ca-login``), kept in the
shared store, and taken atomically, so it can answer one submission only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.gdzwfw_idp.parts import IdpParts
from services.gdzwfw_idp.verification.certificate.verifier import CertificateError, VerifiedCertificate, challenge_text

__all__ = ["Challenge", "issue_challenge", "verify_submission", "PURPOSES"]

PURPOSES = {"bank-verify": "bank", "ca-verify": "ca", "bank-login": "bank", "ca-login": "ca"}


@dataclass
class Challenge:
    nonce: str
    text: str
    ttl: int


async def issue_challenge(idp: IdpParts, *, owner: str, purpose: str, **extra: Any) -> Challenge:
    """A new challenge for the browser ``owner`` names, kept for ``challenge_ttl`` seconds."""
    nonce = idp.tokens.token(24)
    ttl = idp.settings.challenge_ttl
    await idp.kv.aset(f"cert-challenge:{nonce}", {"purpose": purpose, "owner": owner, **extra}, ttl)
    return Challenge(nonce=nonce, text=challenge_text(purpose=purpose, nonce=nonce, issuer=idp.settings.public_url), ttl=ttl)


def verify_submission(idp: IdpParts, *, owner: str, purpose: str, nonce: str, response: str) -> tuple[VerifiedCertificate, dict[str, Any]]:
    """Take the challenge (whatever happens next, it is spent) and run every check."""
    entry = idp.kv.pop(f"cert-challenge:{nonce}") if nonce else None
    if not entry or entry.get("purpose") != purpose or entry.get("owner") != owner:
        raise CertificateError("challenge_spent", "核验码已失效（超时或已使用），请使用页面上新的核验码重新签名")
    expected = challenge_text(purpose=purpose, nonce=nonce, issuer=idp.settings.public_url)
    verified = idp.certificates.verify(kind=PURPOSES[purpose], response=response, expected_challenge=expected)
    return verified, entry
