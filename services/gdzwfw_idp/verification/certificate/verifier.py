"""网银证书核验 (→ 四级（原L2）) and 企业/单位CA证书核验 (→ 五级（原L3）).

The provider issues a one-time challenge; the 「CA助手」 (``devtools.ca_helper``
here, a vendor's client in real life) signs it with the unit's certificate key
once the PIN unlocks it, and returns the signature with the certificate
chain. This module checks, in order, each with its own message:

1. the response is well formed and answers this very challenge;
2. the signature over the challenge verifies with the certificate's key;
3. the certificate is within its validity dates;
4. its key usage allows digital signatures (an encryption certificate does not);
5. the chain reaches one of the configured trust anchors for this kind
   (bank root CAs for 网银证书, enterprise CAs for CA证书), by RFC 5280 path
   validation (``cryptography.x509.verification``);
6. no certificate in the chain is revoked, by the issuer's configured CRL,
   which must be current and correctly signed (no CRL: refused, fail closed);
7. the certificate names a unit: its 统一社会信用代码 is in the subject's
   ``serialNumber`` attribute (OID 2.5.4.5).

Whether that unit is the account's unit is the caller's decision.

The response the helper returns is ``GDCA1.`` followed by base64url(JSON
``{"challenge", "certificates": [base64 DER, leaf first], "signature": base64}``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from shared.clock import Clock
from shared.identifiers import IdentifierError, validate_uscc

__all__ = [
    "CertificateError",
    "CertificateVerifier",
    "VerifiedCertificate",
    "KINDS",
    "RESPONSE_PREFIX",
    "challenge_text",
    "decode_response",
    "encode_response",
]

RESPONSE_PREFIX = "GDCA1."
KINDS = {"bank": "网银证书", "ca": "CA证书"}
_MAX_RESPONSE = 20_000


class CertificateError(Exception):
    """A check failed; ``message`` is for the user, ``code`` for logs and tests."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VerifiedCertificate:
    uscc: str
    org_name: str
    fingerprint_sha256: str
    serial_hex: str
    issuer: str
    subject: str
    not_after: dt.datetime


def challenge_text(*, purpose: str, nonce: str, issuer: str) -> str:
    """What the helper signs: says who asked, for what, and is unique."""
    return f"gdzwfw-cert-challenge|{issuer}|{purpose}|{nonce}"


def encode_response(*, challenge: str, certificates: list[x509.Certificate], signature: bytes) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    body = {
        "challenge": challenge,
        "certificates": [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in certificates],
        "signature": base64.b64encode(signature).decode(),
    }
    return RESPONSE_PREFIX + base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def decode_response(text: str) -> tuple[str, list[x509.Certificate], bytes]:
    text = "".join((text or "").split())
    bad = CertificateError("malformed", "签名结果格式不正确，请完整复制CA助手输出的全部内容后粘贴")
    if not text.startswith(RESPONSE_PREFIX) or len(text) > _MAX_RESPONSE:
        raise bad
    try:
        payload = text[len(RESPONSE_PREFIX) :]
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        challenge = body["challenge"]
        certs = [x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in body["certificates"]]
        signature = base64.b64decode(body["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad from None
    if not isinstance(challenge, str) or not certs or len(certs) > 5:
        raise bad
    return challenge, certs, signature


def _verify_signature(cert: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = cert.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise CertificateError("key_type", "不支持该证书的密钥类型")
    except InvalidSignature:
        raise CertificateError("signature", "签名验证失败：签名与所提交的证书不匹配") from None


def _require_signing_usage(policy, cert: x509.Certificate, usage: x509.KeyUsage) -> None:
    # Used inside path validation too, so no chain with an encryption-only leaf passes.
    if not usage.digital_signature:
        raise ValueError("leaf key usage lacks digitalSignature")


_EE_POLICY = ExtensionPolicy.permit_all().require_present(x509.KeyUsage, Criticality.AGNOSTIC, _require_signing_usage)


class _FileCache:
    """Files re-read when they change on disk (CRLs are replaced daily)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = [Path(p) for p in paths]
        self._stamp: tuple | None = None
        self._lock = threading.Lock()
        self.value: object = None

    def get(self, parse):
        stamp = tuple((p, p.stat().st_mtime_ns if p.exists() else None) for p in self.paths)
        with self._lock:
            if stamp != self._stamp:
                self.value = parse([p.read_bytes() for p in self.paths if p.exists()])
                self._stamp = stamp
            return self.value


def _parse_certs(blobs: list[bytes]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for blob in blobs:
        certs.extend(x509.load_pem_x509_certificates(blob) if b"-----BEGIN" in blob else [x509.load_der_x509_certificate(blob)])
    return certs


def _parse_crls(blobs: list[bytes]) -> list[x509.CertificateRevocationList]:
    return [x509.load_pem_x509_crl(b) if b"-----BEGIN" in b else x509.load_der_x509_crl(b) for b in blobs]


class CertificateVerifier:
    def __init__(self, *, bank_anchors: list[str], ca_anchors: list[str], crls: list[str], clock: Clock) -> None:
        self.clock = clock
        self._anchors = {"bank": _FileCache(bank_anchors), "ca": _FileCache(ca_anchors)}
        self._crls = _FileCache(crls)

    def configured(self, kind: str) -> bool:
        return bool(self._anchors[kind].get(_parse_certs))

    def verify(self, *, kind: str, response: str, expected_challenge: str) -> VerifiedCertificate:
        anchors: list[x509.Certificate] = self._anchors[kind].get(_parse_certs)
        if not anchors:
            raise CertificateError("no_anchors", f"本平台尚未配置受信任的{KINDS[kind]}颁发机构，暂时无法核验")
        challenge, certs, signature = decode_response(response)
        if challenge != expected_challenge:
            raise CertificateError("challenge", "签名结果与本次核验请求不一致，请使用页面上当前的核验码重新签名")
        leaf, intermediates = certs[0], certs[1:]
        _verify_signature(leaf, signature, challenge.encode("utf-8"))

        now = self.clock.now()
        if now < leaf.not_valid_before_utc:
            raise CertificateError("not_yet_valid", f"证书尚未生效（生效日期 {leaf.not_valid_before_utc:%Y-%m-%d}）")
        if now > leaf.not_valid_after_utc:
            raise CertificateError("expired", f"证书已过期（有效期至 {leaf.not_valid_after_utc:%Y-%m-%d}），请更新证书后再试")
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is None or not usage.digital_signature:
            raise CertificateError("key_usage", "该证书不能用于数字签名（可能是加密证书），请使用签名证书")
        try:
            eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            eku = None
        if eku is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            raise CertificateError("key_usage", "该证书的用途不是身份认证，请使用签名证书")

        try:
            verifier = (
                PolicyBuilder()
                .store(Store(anchors))
                .time(now)
                .max_chain_depth(4)
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_EE_POLICY)
                .build_client_verifier()
            )
            chain = verifier.verify(leaf, intermediates).chain
        except VerificationError:
            raise CertificateError("untrusted", f"该证书不是由受信任的{KINDS[kind]}颁发机构签发，或证书链不完整") from None
        self._check_revocation(chain, now)

        uscc = self._uscc_of(leaf)
        names = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) or leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return VerifiedCertificate(
            uscc=uscc,
            org_name=str(names[0].value) if names else "",
            fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
            serial_hex=format(leaf.serial_number, "x"),
            issuer=leaf.issuer.rfc4514_string(),
            subject=leaf.subject.rfc4514_string(),
            not_after=leaf.not_valid_after_utc,
        )

    def _check_revocation(self, chain: list[x509.Certificate], now: dt.datetime) -> None:
        crls: list[x509.CertificateRevocationList] = self._crls.get(_parse_crls)
        # Every certificate below the anchor is checked against its issuer's CRL.
        for cert, issuer in zip(chain, chain[1:], strict=False):
            current = [
                crl
                for crl in crls
                if crl.issuer == issuer.subject and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            ]
            if not current:
                raise CertificateError("no_crl", "无法确认证书吊销状态（未配置该颁发机构的证书吊销列表），暂时无法核验")
            crl = max(current, key=lambda c: c.last_update_utc)
            if crl.next_update_utc is None or crl.next_update_utc < now:
                raise CertificateError("stale_crl", "证书吊销列表已过期，暂时无法核验，请稍后再试")
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                raise CertificateError("revoked", "该证书已被吊销，请联系发证机构")

    @staticmethod
    def _uscc_of(cert: x509.Certificate) -> str:
        for attr in cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
            try:
                return validate_uscc(str(attr.value))
            except IdentifierError:
                continue
        raise CertificateError("no_uscc", "证书中没有有效的统一社会信用代码，不能用于法人核验")
