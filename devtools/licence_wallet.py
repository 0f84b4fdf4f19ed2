"""The electronic-business-licence wallet stand-in, as a command.

    python -m devtools.licence_wallet --qr 'http://127.0.0.1:8001/m/licence?s=…' \\
        --uscc 91440305MA5DLB002T --name 深圳市南山区示范软件有限公司 [--rep 孙磊]

Reads the QR code's URL (shown under the QR code in development), signs an
assertion (JWS, ES256) with the licence authority's development key from
``python -m devtools.certs`` and posts it to the provider's
``/licence/callback``, as the WeChat 电子营业执照 mini-program's back end
would. The page that shows the QR code then completes by itself.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from services.gdzwfw_idp.settings import LICENCE_SCOPE
from services.gdzwfw_idp.verification.licence.verifier import sign_assertion

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.licence_wallet", description="Sign and send an electronic-licence assertion for a QR code."
    )
    parser.add_argument("--qr", required=True, help="the QR code's URL (…/m/licence?s=…)")
    parser.add_argument("--uscc", required=True)
    parser.add_argument("--name", required=True, help="the unit's name on its licence")
    parser.add_argument("--rep", default=None, help="the legal representative's name")
    parser.add_argument("--scope", default=LICENCE_SCOPE, help=f"authorisation scope (default {LICENCE_SCOPE})")
    parser.add_argument("--key", type=Path, default=ROOT / "var" / "certs" / "licence" / "authority-key.pem")
    parser.add_argument("--issuer", default="urn:gd:samr:licence-authority")
    args = parser.parse_args(argv)
    url = urlsplit(args.qr)
    sid = (parse_qs(url.query).get("s") or [""])[0]
    provider = f"{url.scheme}://{url.netloc}"
    now = int(time.time())
    claims = {
        "iss": args.issuer,
        "aud": provider,
        "sid": sid,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 120,
        "scope": args.scope,
        "uscc": args.uscc,
        "org_name": args.name,
    }
    if args.rep:
        claims["legal_rep_name"] = args.rep
    token = sign_assertion(args.key.read_bytes(), claims)
    response = httpx.post(f"{provider}/licence/callback", data={"assertion": token, "sid": sid}, timeout=10)
    print(response.json().get("message") or response.text)
    return 0 if response.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
