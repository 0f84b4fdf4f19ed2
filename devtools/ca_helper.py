"""The project's 「CA助手」 stand-in: sign the provider's one-time challenge.

    python -m devtools.ca_helper sign --p12 var/certs/units/<USCC>/bank.p12 --pin 123456 --challenge '<核验码>'

Like the real helper, it unlocks the certificate's private key with the PIN
(an encrypted PKCS#12 file stands in for the USB key), signs the challenge
shown on the page (ECDSA or RSA with SHA-256), and prints one line — the
certificate chain and the signature — to paste back into the page's
「签名结果」 box. A wrong PIN signs nothing.

    python -m devtools.ca_helper serve [--certs var/certs] [--port 18880]

runs it the way the province's pages expect a 数字证书客户端: on loopback,
listing the certificates it holds (the test PKI's manifest) and signing a
page's challenge with the PIN typed on the page. Only the configured page
origins may call it (CORS); five wrong PINs lock a certificate, as a USB key
would, until the helper restarts.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from services.gdzwfw_idp.verification.certificate.verifier import encode_response

__all__ = ["WrongPin", "sign_challenge", "helper_app", "main"]

DEFAULT_PORT = 18880
PIN_TRIES = 5


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


def helper_app(certs_dir: Path, *, allow_origins: list[str], pin_tries: int = PIN_TRIES):
    """The loopback 「CA助手」: ``GET /v1/status`` lists the certificates,
    ``POST /v1/sign`` {id, pin, challenge} answers {response} or {error}."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    manifest = json.loads((certs_dir / "manifest.json").read_text(encoding="utf-8"))
    certificates: dict[str, dict[str, Any]] = {}
    for uscc, unit in manifest.get("units", {}).items():
        for kind in ("bank", "ca"):
            certificates[f"{uscc}/{kind}"] = {
                "id": f"{uscc}/{kind}",
                "kind": kind,
                "uscc": uscc,
                "org_name": unit["name"],
                "path": certs_dir / unit[kind],
            }
    wrong: dict[str, int] = {}
    lock = threading.Lock()

    async def status(request: Request) -> JSONResponse:
        listed = [{k: v for k, v in c.items() if k != "path"} for c in certificates.values()]
        return JSONResponse({"product": "CA助手（开发环境替身）", "certificates": listed})

    async def sign(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            cert = certificates[str(body["id"])]
            pin, challenge = str(body["pin"]), str(body["challenge"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "请求格式不正确或证书不存在"}, status_code=400)
        with lock:
            if wrong.get(cert["id"], 0) >= pin_tries:
                return JSONResponse({"error": "PIN码错误次数过多，证书已锁定，请联系证书颁发机构解锁"}, status_code=423)
        try:
            response = sign_challenge(cert["path"].read_bytes(), pin, challenge)
        except WrongPin:
            with lock:
                wrong[cert["id"]] = wrong.get(cert["id"], 0) + 1
                left = pin_tries - wrong[cert["id"]]
            text = f"PIN码错误，还可尝试{left}次" if left else "PIN码错误次数过多，证书已锁定，请联系证书颁发机构解锁"
            return JSONResponse({"error": text}, status_code=400)
        with lock:
            wrong.pop(cert["id"], None)
        return JSONResponse({"response": response})

    return Starlette(
        routes=[Route("/v1/status", status), Route("/v1/sign", sign, methods=["POST"])],
        # Only the province's pages may use the helper: another site open in
        # the same browser must not list or try certificates.
        middleware=[Middleware(CORSMiddleware, allow_origins=allow_origins, allow_methods=["GET", "POST"], allow_headers=["Content-Type"])],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.ca_helper", description="「CA助手」: sign a certificate-verification challenge."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sign = sub.add_parser("sign", help="sign the challenge shown on the page")
    sign.add_argument("--p12", type=Path, required=True, help="the certificate file (PKCS#12)")
    sign.add_argument("--pin", required=True, help="the certificate's PIN")
    sign.add_argument("--challenge", required=True, help="the 核验码 shown on the page")
    serve = sub.add_parser("serve", help="run on loopback for the province's certificate pages")
    serve.add_argument("--certs", type=Path, default=Path("var/certs"), help="the test PKI written by python -m devtools.certs")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--allow-origin", action="append", default=None, help="a page origin allowed to call it (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        import uvicorn

        if not (args.certs / "manifest.json").exists():
            print(f"CA助手：{args.certs} 下没有证书，请先运行 python -m devtools.certs", file=sys.stderr)
            return 2
        origins = args.allow_origin or ["http://127.0.0.1:8001", "http://localhost:8001"]
        print(f"CA助手已启动：http://127.0.0.1:{args.port}（允许的页面：{', '.join(origins)}）", flush=True)
        uvicorn.run(helper_app(args.certs, allow_origins=origins), host="127.0.0.1", port=args.port, log_level="warning")
        return 0
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
