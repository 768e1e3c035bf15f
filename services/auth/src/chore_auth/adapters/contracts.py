"""Domain events -> published contracts (chore_common.contracts.auth): the one outbox mapping."""

from __future__ import annotations

from chore_auth.domain.events import DomainEvent, SessionRevoked, UserRegistered
from chore_common.contracts.auth import SessionRevokedV1, UserRegisteredV1
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
