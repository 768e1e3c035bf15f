"""Signing up: the rules for emails, passwords and roles, and the event a new account makes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from chore_auth.domain.errors import InvalidRole, WeakPassword
from chore_auth.domain.events import UserRegistered
from chore_auth.domain.model import SELF_SERVICE_ROLES, Role, User

PASSWORD_MIN = 10
PASSWORD_MAX = 128


def normalize_email(email: str) -> str:
    # One account per mailbox however the address is typed.
    return email.strip().lower()


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise WeakPassword(f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.")


def new_user(
    *,
    user_id: UUID,
    email: str,
    name: str,
    role: Role,
    password_hash: str,
    now: datetime,
    operator: bool = False,
) -> tuple[User, UserRegistered]:
    """A new account and its `UserRegistered` event. Only an operator may create admins."""
    if role not in SELF_SERVICE_ROLES and not operator:
        raise InvalidRole("Role must be client or tasker.")
    user = User(
        id=user_id,
        email=normalize_email(email),
        name=name.strip(),
        role=role,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    return user, UserRegistered(user.id, user.email, user.name, user.role, now)
