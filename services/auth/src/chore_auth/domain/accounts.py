"""Signing up: the rules for emails, passwords and roles, and the event a new account makes."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from chore_auth.domain.errors import InvalidEmail, InvalidRole, WeakPassword
from chore_auth.domain.events import UserRegistered
from chore_auth.domain.model import SELF_SERVICE_ROLES, Role, User

PASSWORD_MIN = 10
PASSWORD_MAX = 128


def normalize_email(email: str) -> str:
    """One account per mailbox however the address is typed or pasted.

    Format characters (category Cf: zero-width space and joiners, BOM, soft hyphen, bidi
    controls) are invisible, so they go; NFKC makes composed and decomposed accents one
    form and folds compatibility forms (full-width letters); the whole address is
    lower-cased, as before, and normalised again because lower-casing can leave marks out
    of canonical order. The result is a fixed point: normalising it changes nothing.
    """
    visible = "".join(c for c in email if unicodedata.category(c) != "Cf")
    folded = unicodedata.normalize("NFKC", visible).lower()
    return unicodedata.normalize("NFKC", folded).strip()


# The shape the API checks (api.schemas.EMAIL_PATTERN), checked again once normalised:
# "\u200b@example.com" passes at the edge and is "@example.com" here.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_email(email: str) -> None:
    if _EMAIL.fullmatch(email) is None:
        raise InvalidEmail("Email must look like name@example.com.")


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
    email = normalize_email(email)
    check_email(email)
    user = User(
        id=user_id,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    return user, UserRegistered(user.id, user.email, user.name, user.role, now)


DELETED_NAME = "Deleted user"


def erase(user: User, *, now: datetime) -> User:
    """What a deleted account keeps: its id, role and dates. The email becomes an address
    nobody owns (the column is unique), so the mailbox can sign up again."""
    return replace(
        user,
        email=f"deleted-{user.id}@deleted.invalid",
        name=DELETED_NAME,
        password_hash="!",  # noqa: S106 - matches no password: argon2 cannot verify it
        bio="",
        skills=(),
        avatar_url=None,
        city="",
        email_verified_at=None,
        status_reason=None,
        updated_at=now,
        deleted_at=now,
    )
