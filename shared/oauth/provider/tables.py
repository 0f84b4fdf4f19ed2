"""Provider storage, as SQLAlchemy Core tables on the service's metadata.

Secrets are stored hashed (SHA-256 of high-entropy values): client secrets,
authorization codes, access and refresh tokens. Subjects are plain strings so
the protocol layer does not depend on a service's account tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

__all__ = ["ProviderTables", "define_provider_tables"]


@dataclass(frozen=True)
class ProviderTables:
    client: Table
    authorization_code: Table
    token: Table
    signing_key: Table
    logout_outbox: Table
    used_jti: Table


def define_provider_tables(metadata: MetaData) -> ProviderTables:
    client = Table(
        "oauth_client",
        metadata,
        Column("client_id", String(100), primary_key=True),
        Column("client_secret_hash", String(64), nullable=True),
        Column("client_name", String(200), nullable=False, default=""),
        Column("redirect_uris", JSON, nullable=False),
        Column("post_logout_redirect_uris", JSON, nullable=False),
        Column("backchannel_logout_uri", String(500), nullable=True),
        Column("grant_types", JSON, nullable=False),
        Column("scope", String(500), nullable=False),
        Column("token_endpoint_auth_method", String(40), nullable=False),
        Column("introspection_allowed", Boolean, nullable=False, default=False),
        # Registration metadata beyond the columns above (RFC 7591 names:
        # require_pushed_authorization_requests, jwks, jwks_uri, ...).
        Column("registration", JSON, nullable=False, default=dict),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    authorization_code = Table(
        "oauth_authorization_code",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("code_hash", String(64), nullable=False, unique=True),
        Column("client_id", String(100), ForeignKey("oauth_client.client_id", ondelete="CASCADE"), nullable=False),
        Column("subject", String(100), nullable=False),
        Column("redirect_uri", String(500), nullable=False),
        Column("scope", String(500), nullable=False),
        Column("nonce", String(255), nullable=True),
        Column("code_challenge", String(128), nullable=False),
        Column("code_challenge_method", String(10), nullable=False),
        Column("auth_time", Integer, nullable=False),
        Column("acr", String(100), nullable=True),
        Column("amr", JSON, nullable=False),
        Column("sid", String(64), nullable=True),
        Column("context", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("used_at", DateTime(timezone=True), nullable=True),
        # nonce_seen() runs on every code issuance.
        Index("ix_oauth_authorization_code_client_nonce", "client_id", "nonce"),
    )
    token = Table(
        "oauth_token",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("access_token_hash", String(64), nullable=False, unique=True),
        Column("refresh_token_hash", String(64), nullable=True),
        Column("client_id", String(100), ForeignKey("oauth_client.client_id", ondelete="CASCADE"), nullable=False),
        Column("subject", String(100), nullable=True),
        Column("scope", String(500), nullable=False),
        Column("family_id", String(64), nullable=False, index=True),
        Column("authorization_code_id", Integer, nullable=True),
        Column("auth_time", Integer, nullable=True),
        Column("acr", String(100), nullable=True),
        Column("amr", JSON, nullable=False),
        Column("sid", String(64), nullable=True),
        Column("context", JSON, nullable=False),
        Column("issued_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("refresh_expires_at", DateTime(timezone=True), nullable=True),
        Column("refresh_used_at", DateTime(timezone=True), nullable=True),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
        # RFC 9449: the thumbprint of the key a DPoP-bound token is bound to (cnf.jkt).
        Column("dpop_jkt", String(64), nullable=True),
    )
    # Only the rows that have a value: a client-credentials token has no
    # refresh token, code or login session, and each index entry for its
    # NULLs cost PostgreSQL a tenth of the insert's CPU (one per token, the
    # hot write). Lookups are by equality, which implies the condition,
    # so the planner uses these for generic plans too.
    for name, unique in (("refresh_token_hash", True), ("authorization_code_id", False), ("sid", False)):
        column = token.c[name]
        Index(
            f"{'uq' if unique else 'ix'}_oauth_token_{name}",
            column,
            unique=unique,
            postgresql_where=column.is_not(None),
            sqlite_where=column.is_not(None),
        )
    signing_key = Table(
        "oauth_signing_key",
        metadata,
        Column("kid", String(64), primary_key=True),
        Column("alg", String(10), nullable=False),
        Column("private_key_encrypted", Text, nullable=False),
        Column("public_jwk", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("retired_at", DateTime(timezone=True), nullable=True),
    )
    # Back-channel logout notices still to deliver (written in the logout's
    # transaction; :mod:`.logout_outbox`). The logout token is signed at each
    # attempt, not stored: it is valid for two minutes, a retry comes later.
    logout_outbox = Table(
        "oauth_logout_outbox",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(100), nullable=False),
        Column("uri", String(500), nullable=False),
        Column("subject", String(100), nullable=True),
        Column("sid", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
        # A delivering process's lease: others leave the row alone until it ends.
        Column("claimed_until", DateTime(timezone=True), nullable=True),
    )
    # JWT ids seen in client assertions (RFC 7523 §3: a jti is used once),
    # kept until the assertion expires. Written in the request's own
    # transaction: the primary key is the single-use guarantee across
    # replicas, and nothing waits on a second connection (SQLite).
    used_jti = Table(
        "oauth_used_jti",
        metadata,
        Column("jti_hash", String(64), primary_key=True),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )
    return ProviderTables(
        client=client,
        authorization_code=authorization_code,
        token=token,
        signing_key=signing_key,
        logout_outbox=logout_outbox,
        used_jti=used_jti,
    )
