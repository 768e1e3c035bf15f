"""Auth's tables: users, sessions, refresh tokens, signing keys, login failures, one-time
account tokens, the audit log, outbox."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
)

from chore_common.db import new_metadata
from chore_common.db.types import UtcDateTime
from chore_common.idempotency.table import add_idempotency_table
from chore_common.outbox.table import add_outbox_table

metadata = new_metadata()

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("bio", Text, nullable=False, server_default=""),
    Column("skills", JSON, nullable=False, server_default="[]"),
    Column("avatar_url", String(500), nullable=True),
    Column("city", String(100), nullable=False, server_default=""),
    Column("email_verified_at", UtcDateTime(), nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("status_reason", String(500), nullable=True),
    Column("deleted_at", UtcDateTime(), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("user_agent", String(200), nullable=False, server_default=""),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("revoke_reason", String(32), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_id", Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    # sha256 of the opaque token: the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    # Set with used_at: the successor, sealed under this token (never the token itself).
    Column("sealed_successor", LargeBinary(128), nullable=True),
    Index("ix_refresh_tokens_session_id", "session_id"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # Unique: replicas racing to create the first key (all at the epoch) get one winner.
    Column("activates_at", UtcDateTime(), nullable=False, unique=True, index=True),
    Column("retired_at", UtcDateTime(), nullable=True),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("window_start", UtcDateTime(), nullable=False),
)

# Password-reset and email-verification tokens: only their sha256 is kept.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("email", String(254), nullable=False),  # the address a verification proves
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Index("ix_account_tokens_user_id", "user_id"),
)

# Security events, kept a year (bootstrap's purge loop); no foreign keys: entries outlive
# the accounts they name.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("action", String(40), nullable=False),
    Column("actor_id", Uuid, nullable=True),
    Column("target_id", Uuid, nullable=True),
    Column("client_ip", String(64), nullable=False),
    Column("detail", String(500), nullable=False, server_default=""),
    Index("ix_audit_log_at_id", "at", "id"),
    Index("ix_audit_log_target_id_at", "target_id", "at"),
    Index("ix_audit_log_actor_id_at", "actor_id", "at"),
)

outbox = add_outbox_table(metadata)
idempotency_keys = add_idempotency_table(metadata)
