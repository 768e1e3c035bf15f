"""Domain events -> published contracts (chore_common.contracts.auth): the one outbox mapping."""

from __future__ import annotations

from chore_auth.domain.account_tokens import Purpose
from chore_auth.domain.events import (
    ContactChanged,
    DomainEvent,
    LinkMailed,
    PasswordChanged,
    ProfileUpdated,
    SessionRevoked,
    StatusChanged,
    UserDeleted,
    UserRegistered,
)
from chore_common.contracts.auth import (
    ContactChangedV1,
    EmailVerificationRequestedV1,
    PasswordChangedV1,
    PasswordResetRequestedV1,
    ProfileUpdatedV1,
    SessionRevokedV1,
    StatusChangedV1,
    UserDeletedV1,
    UserRegisteredV1,
)
from chore_common.contracts.registry import Contract


def to_contract(event: DomainEvent) -> Contract:
    match event:
        case UserRegistered():
            return UserRegisteredV1(
                user_id=event.user_id,
                role=event.role.value,
                name=event.name,
                registered_at=event.occurred_at,
            )
        case SessionRevoked():
            return SessionRevokedV1(
                user_id=event.user_id,
                session_id=event.session_id,
                revoked_at=event.occurred_at,
                reason=event.reason.value,
            )
        case LinkMailed():
            return _link_mailed(event)
        case _:
            return _account_event(event)


def _link_mailed(event: LinkMailed) -> Contract:
    kind = (
        PasswordResetRequestedV1
        if event.purpose == Purpose.PASSWORD_RESET.value
        else EmailVerificationRequestedV1
    )
    return kind(
        user_id=event.user_id,
        email=event.email,
        name=event.name,
        link=event.link,
        expires_at=event.expires_at,
    )


def _account_event(
    event: ProfileUpdated | ContactChanged | PasswordChanged | UserDeleted | StatusChanged,
) -> Contract:
    match event:
        case ProfileUpdated():
            return ProfileUpdatedV1(
                user_id=event.user_id, name=event.name, city=event.city, skills=list(event.skills)
            )
        case ContactChanged():
            return ContactChangedV1(
                user_id=event.user_id,
                email=event.email,
                name=event.name,
                email_verified=event.email_verified,
            )
        case PasswordChanged():
            return PasswordChangedV1(
                user_id=event.user_id, changed_at=event.occurred_at, by_reset=event.by_reset
            )
        case UserDeleted():
            return UserDeletedV1(user_id=event.user_id, deleted_at=event.occurred_at)
        case StatusChanged():
            return StatusChangedV1(
                user_id=event.user_id, status=event.status.value, reason=event.reason
            )
