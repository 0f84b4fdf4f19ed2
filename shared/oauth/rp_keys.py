"""The key a relying party signs its ``private_key_jwt`` assertions with
(RFC 7523), and the public JWK Set it publishes for its provider.

Production: configured, a private JWK (EC P-256 → ES256, or RSA → PS256) in
the service's setting. Development: derived at start-up from the service's
secret key, so every process and every restart of the same deployment has
the same key (a freshly generated one per process would leave the provider
holding whichever replica's key it fetched first). The provider registers
the relying party with the ``jwks_uri`` where it publishes the public half.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, RSAKey, thumbprint
from pydantic import SecretStr

from shared.settings import ServiceSettings

__all__ = ["RelyingPartyKey", "relying_party_key", "public_jwks", "signing_alg"]

RelyingPartyKey = ECKey | RSAKey
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def relying_party_key(configured: SecretStr | None, settings: ServiceSettings, *, label: str) -> RelyingPartyKey | None:
    """The configured private JWK, else (development only) one derived from
    the service's secret key and ``label``; None outside development without one."""
    if configured is not None:
        data = json.loads(configured.get_secret_value())
        key = RSAKey.import_key(data) if data.get("kty") == "RSA" else ECKey.import_key(data)
        if not key.is_private:
            raise ValueError(f"{label}: the configured key has no private part")
        return _with_kid(key, "PS256" if isinstance(key, RSAKey) else "ES256")
    if not settings.is_development:
        return None
    info = f"private_key_jwt:{label}".encode()
    seed = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=info).derive(settings.secret_key.get_secret_value().encode())
    # 48 bytes reduced modulo the group order: uniform enough (FIPS 186-5 A.2.1).
    scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
    private = ec.derive_private_key(scalar, ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _with_kid(ECKey.import_key(pem), "ES256")


def _with_kid(key: RelyingPartyKey, alg: str) -> RelyingPartyKey:
    params = {"alg": alg, "use": "sig", "kid": key.kid or thumbprint(key.as_dict(private=False))}
    return type(key).import_key(key.as_dict(private=True), parameters=params)


def public_jwks(key: RelyingPartyKey) -> dict:
    return {"keys": [key.as_dict(private=False)]}


def signing_alg(key: RelyingPartyKey) -> str:
    return str(key.alg or ("PS256" if isinstance(key, RSAKey) else "ES256"))
