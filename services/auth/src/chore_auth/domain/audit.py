"""The audit trail: who did what to which account, when, from which address."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

RETENTION = timedelta(days=365)
DETAIL_MAX = 500


class AuditAction(enum.StrEnum):
    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - an event name
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name
    EMAIL_CHANGED = "email_changed"
    EMAIL_VERIFIED = "email_verified"
    SESSION_REVOKED = "session_revoked"
    ACCOUNT_DELETED = "account_deleted"
    SUSPENDED = "suspended"
    UNSUSPENDED = "unsuspended"
    BANNED = "banned"


@dataclass(frozen=True)
class AuditEntry:
    id: UUID
    at: datetime
    action: AuditAction
    actor_id: UUID | None  # who acted: the user, an admin, or None (someone not signed in)
    target_id: UUID | None  # whose account: None when no account matched
    client_ip: str
    detail: str = ""


@dataclass(frozen=True)
class AuditFilter:
    action: AuditAction | None = None
    actor_id: UUID | None = None
    target_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def entry(
    entry_id: UUID,
    action: AuditAction,
    *,
    at: datetime,
    actor_id: UUID | None,
    target_id: UUID | None,
    client_ip: str,
    detail: str = "",
) -> AuditEntry:
    return AuditEntry(
        entry_id, at, action, actor_id, target_id, client_ip[:64], detail[:DETAIL_MAX]
    )
