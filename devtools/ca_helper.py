"""The project's 「CA助手」 stand-in: sign the provider's one-time challenge.

    python -m devtools.ca_helper sign --p12 var/certs/units/<USCC>/bank.p12 --pin 123456 --challenge '<核验码>'

Like the real helper, it unlocks the certificate's private key with the PIN
(an encrypted PKCS#12 file stands in for the USB key), signs the challenge
shown on the page (ECDSA or RSA with SHA-256), and prints one line — the
certificate chain and the signature — to paste back into the page's
「签名结果」 box. A wrong PIN signs nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from services.gdzwfw_idp.certificates import encode_response

__all__ = ["WrongPin", "sign_challenge", "main"]


class WrongPin(Exception):
    """The PIN does not unlock the certificate file."""


def sign_challenge(p12: bytes, pin: str, challenge: str) -> str:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(p12, pin.encode())
    except ValueError:
        raise WrongPin("PIN码错误，或证书文件已损坏") from None
    if key is None or cert is None:
        raise WrongPin("证书文件中没有私钥或证书")
    data = challenge.strip().encode("utf-8")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:  # pragma: no cover - the generator only writes EC keys
        raise WrongPin("不支持该证书的密钥类型")
    return encode_response(challenge=challenge.strip(), certificates=[cert, *(extra or [])], signature=signature)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.ca_helper", description="「CA助手」: sign a certificate-verification challenge.")
    sub = parser.add_subparsers(dest="command", required=True)
    sign = sub.add_parser("sign", help="sign the challenge shown on the page")
    sign.add_argument("--p12", type=Path, required=True, help="the certificate file (PKCS#12)")
    sign.add_argument("--pin", required=True, help="the certificate's PIN")
    sign.add_argument("--challenge", required=True, help="the 核验码 shown on the page")
    args = parser.parse_args(argv)
    try:
        print(sign_challenge(args.p12.read_bytes(), args.pin, args.challenge))
    except WrongPin as exc:
        print(f"CA助手：{exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"CA助手：无法读取证书文件：{exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
