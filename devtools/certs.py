"""Generate the project's test PKI (``make certs``-style): ``python -m devtools.certs [--out var/certs]``.

DESIGN.md § Stand-ins: 网银证书 / CA证书 are certificates under a test CA
hierarchy the project generates. This writes, under ``--out`` (default
``var/certs/``, git-ignored):

* ``bank/root-ca.pem`` 「示范银行根CA」 and ``bank/issuing-ca.pem``
  「示范银行企业网银CA」 (root + intermediate): the trust anchors of
  网银证书核验 (四级（原L2）) are the roots; the intermediate travels with the
  leaf, as a real online-bank certificate's chain does.
* ``ca/root-ca.pem`` 「广东示范数字证书认证中心」: issues 企业/单位CA证书 directly
  (五级（原L3）).
* ``*.crl.pem``: one CRL per issuing CA (``bank/issuing-ca.crl.pem`` lists the
  revoked demo certificate; ``bank/root-ca.crl.pem`` covers the intermediate).
* ``units/<USCC>/bank.p12`` and ``units/<USCC>/ca.p12``: encrypted PKCS#12
  files holding each demo unit's signing key and certificate (plus the
  intermediate), unlocked by the PIN (default ``123456``).
* Certificates that must fail, for trying the checks by hand: ``bad/expired.p12``,
  ``bad/revoked.p12``, ``bad/encryption-only.p12`` (an encryption certificate:
  key usage without digitalSignature), ``bad/forged.p12`` (same names, issued
  by an impostor CA the provider does not trust), ``bad/not-yet-valid.p12``.
* ``licence/authority-key.pem`` (private, ES256) and ``licence/authority-public.pem``:
  the electronic-business-licence authority's key pair; the provider trusts
  the public half, the licence-wallet stand-in signs with the private half.
* ``manifest.json``: what was generated, for people and for tests.

Where a certificate names its unit: the 统一社会信用代码 is the subject's
``serialNumber`` attribute (OID 2.5.4.5); ``O`` and ``CN`` carry the unit's
name. Keys are ECDSA P-256 (the real ones are RSA or SM2; the provider
accepts RSA and ECDSA).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEMO_PIN", "DEMO_UNITS", "Pki", "generate", "main"]

ROOT = Path(__file__).resolve().parent.parent
DEMO_PIN = "123456"

# (USCC, unit name). The first four are the demo accounts; the rest are in the
# 法人基础库 but not yet registered, so anyone can register them and raise them.
DEMO_UNITS: list[tuple[str, str]] = [
    ("91440106MA5DL1A170", "广州市天河区示范科技有限公司"),
    ("91440104MA5DL2B24P", "广州市越秀区示范贸易有限公司"),
    ("91440103MA5DL3C31X", "广州市荔湾区示范制造有限公司"),
    ("91440106MA5DLUN43N", "广州市天河区示范新创有限公司"),
    ("91440105MA5DLA00XW", "广州市海珠区示范物流有限公司"),
    ("91440305MA5DLB002T", "深圳市南山区示范软件有限公司"),
    ("91440606MA5DLC0059", "佛山市顺德区示范家电有限公司"),
    ("91441900MA5DLD008Y", "东莞市示范模具有限公司"),
    ("92440111MA5DLE000J", "广州市白云区示范小吃店"),
    ("51440402MA5DLG0069", "珠海市香洲区示范文化促进会"),
]


@dataclass
class Pki:
    """Paths of what :func:`generate` wrote (all under ``root``)."""

    root: Path
    bank_anchors: list[Path]
    ca_anchors: list[Path]
    crls: list[Path]
    licence_private_key: Path
    licence_public_key: Path
    pin: str

    def unit_p12(self, uscc: str, kind: str) -> Path:
        return self.root / "units" / uscc / f"{kind}.p12"

    def bad_p12(self, name: str) -> Path:
        return self.root / "bad" / f"{name}.p12"

    def settings(self) -> dict[str, object]:
        """The provider settings that trust this hierarchy (``IdpSettings`` fields)."""
        return {
            "bank_ca_files": [str(p) for p in self.bank_anchors],
            "enterprise_ca_files": [str(p) for p in self.ca_anchors],
            "crl_files": [str(p) for p in self.crls],
            "licence_authority_public_key_file": str(self.licence_public_key),
        }


def _name(*, cn: str, o: str, ou: str | None = None, serial: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "广东省"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
    ]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


@dataclass
class _Ca:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _ca(name: x509.Name, *, issuer: _Ca | None, now: dt.datetime, years: int, path_length: int | None) -> _Ca:
    key = _key()
    signer = issuer or _Ca(name, key, None)  # type: ignore[arg-type]
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    return _Ca(name, key, builder.sign(signer.key, hashes.SHA256()))


def _leaf(
    *, ca: _Ca, uscc: str, org: str, ou: str, not_before: dt.datetime, not_after: dt.datetime, signing: bool = True
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    usage = x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not signing,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn=org, o=org, ou=ou, serial=uscc))
        .issuer_name(ca.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return key, cert


def _crl(ca: _Ca, revoked: list[x509.Certificate], *, now: dt.datetime, days: int) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.name)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(now - dt.timedelta(days=1)).build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _p12(path: Path, *, key, cert: x509.Certificate, chain: list[x509.Certificate], pin: str) -> Path:
    encryption = serialization.BestAvailableEncryption(pin.encode())
    friendly = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value.encode()
    data = pkcs12.serialize_key_and_certificates(friendly, key, cert, chain or None, encryption)
    return _write(path, data)


def generate(out: Path, *, now: dt.datetime | None = None, pin: str = DEMO_PIN, units: list[tuple[str, str]] | None = None) -> Pki:
    """Write a fresh hierarchy under ``out``; ``now`` anchors every validity period."""
    now = now or dt.datetime.now(dt.UTC)
    units = DEMO_UNITS if units is None else units
    out.mkdir(parents=True, exist_ok=True)

    bank_root = _ca(_name(cn="示范银行根CA", o="示范银行股份有限公司"), issuer=None, now=now, years=20, path_length=1)
    bank_issuing = _ca(_name(cn="示范银行企业网银CA", o="示范银行股份有限公司"), issuer=bank_root, now=now, years=10, path_length=0)
    ent_root = _ca(_name(cn="广东示范数字证书认证中心", o="广东示范数字证书认证有限公司"), issuer=None, now=now, years=20, path_length=0)
    # An impostor that copies the bank intermediate's name; nobody trusts it.
    impostor = _ca(bank_issuing.name, issuer=None, now=now, years=10, path_length=0)

    valid_from, valid_to = now - dt.timedelta(days=1), now + dt.timedelta(days=730)
    manifest: dict[str, object] = {"pin": pin, "generated_at": now.isoformat(), "units": {}, "bad": {}}

    for uscc, org in units:
        key, cert = _leaf(ca=bank_issuing, uscc=uscc, org=org, ou="企业网银", not_before=valid_from, not_after=valid_to)
        _p12(out / "units" / uscc / "bank.p12", key=key, cert=cert, chain=[bank_issuing.cert], pin=pin)
        key, cert = _leaf(ca=ent_root, uscc=uscc, org=org, ou="企业/单位数字证书", not_before=valid_from, not_after=valid_to)
        _p12(out / "units" / uscc / "ca.p12", key=key, cert=cert, chain=[], pin=pin)
        manifest["units"][uscc] = {"name": org, "bank": f"units/{uscc}/bank.p12", "ca": f"units/{uscc}/ca.p12"}  # type: ignore[index]

    # The failing certificates all name the demo_l2 unit, so they fail only for their own reason.
    uscc, org = DEMO_UNITS[1]
    bad: dict[str, tuple] = {
        "expired": (bank_issuing, now - dt.timedelta(days=400), now - dt.timedelta(days=35), True),
        "not-yet-valid": (bank_issuing, now + dt.timedelta(days=10), now + dt.timedelta(days=400), True),
        "revoked": (bank_issuing, valid_from, valid_to, True),
        "encryption-only": (bank_issuing, valid_from, valid_to, False),
        "forged": (impostor, valid_from, valid_to, True),
    }
    revoked: list[x509.Certificate] = []
    for name, (ca, nb, na, signing) in bad.items():
        key, cert = _leaf(ca=ca, uscc=uscc, org=org, ou="企业网银", not_before=nb, not_after=na, signing=signing)
        _p12(out / "bad" / f"{name}.p12", key=key, cert=cert, chain=[ca.cert], pin=pin)
        manifest["bad"][name] = f"bad/{name}.p12"  # type: ignore[index]
        if name == "revoked":
            revoked.append(cert)

    bank_anchor = _write(out / "bank" / "root-ca.pem", _pem(bank_root.cert))
    _write(out / "bank" / "issuing-ca.pem", _pem(bank_issuing.cert))
    ca_anchor = _write(out / "ca" / "root-ca.pem", _pem(ent_root.cert))
    crls = [
        _write(out / "bank" / "root-ca.crl.pem", _crl(bank_root, [], now=now, days=30).public_bytes(serialization.Encoding.PEM)),
        _write(out / "bank" / "issuing-ca.crl.pem", _crl(bank_issuing, revoked, now=now, days=30).public_bytes(serialization.Encoding.PEM)),
        _write(out / "ca" / "root-ca.crl.pem", _crl(ent_root, [], now=now, days=30).public_bytes(serialization.Encoding.PEM)),
    ]

    licence_key = _key()
    licence_private = _write(
        out / "licence" / "authority-key.pem",
        licence_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    licence_public = _write(
        out / "licence" / "authority-public.pem",
        licence_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    pki = Pki(
        root=out,
        bank_anchors=[bank_anchor],
        ca_anchors=[ca_anchor],
        crls=crls,
        licence_private_key=licence_private,
        licence_public_key=licence_public,
        pin=pin,
    )
    manifest["settings"] = pki.settings()
    _write(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    return pki


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.certs", description="Generate the test CA hierarchy and demo certificates.")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "certs", help="output directory (default var/certs)")
    parser.add_argument("--pin", default=DEMO_PIN, help=f"PIN of every PKCS#12 file (default {DEMO_PIN})")
    args = parser.parse_args(argv)
    pki = generate(args.out, pin=args.pin)
    print(f"test PKI written to {pki.root} (PIN {pki.pin})")
    for uscc, org in DEMO_UNITS:
        print(f"  {uscc}  {org}: units/{uscc}/bank.p12 (网银证书)  units/{uscc}/ca.p12 (CA证书)")
    print("  failing on purpose: bad/expired.p12 bad/not-yet-valid.p12 bad/revoked.p12 bad/encryption-only.p12 bad/forged.p12")


if __name__ == "__main__":
    main()
