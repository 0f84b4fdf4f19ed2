"""The service objects one gdzwfw_idp app is built from (``create_app`` makes
them; handlers receive them through ``deps.IdpDep``)."""

from __future__ import annotations

from dataclasses import dataclass

from services.gdzwfw_idp.qr.sessions import OneTimeSessions
from services.gdzwfw_idp.settings import IdpSettings
from services.gdzwfw_idp.staff.accounts import StaffService
from services.gdzwfw_idp.verification.certificate.verifier import CertificateVerifier
from services.gdzwfw_idp.verification.licence.verifier import LicenceVerifier
from shared.clock import Clock
from shared.db import Database
from shared.kvstore import KeyValueStore
from shared.oauth.provider.provider import Provider
from shared.password_login import PasswordLogin
from shared.passwords import PasswordService
from shared.randomness import TokenSource
from shared.sms import OutboxGateway, SmsCodes

__all__ = ["IdpParts"]


@dataclass
class IdpParts:
    settings: IdpSettings
    db: Database
    kv: KeyValueStore
    clock: Clock
    tokens: TokenSource
    provider: Provider
    login_service: PasswordLogin
    passwords: PasswordService
    sms: SmsCodes
    outbox: OutboxGateway | None
    qr: OneTimeSessions
    certificates: CertificateVerifier
    licence: LicenceVerifier
    staff: StaffService
