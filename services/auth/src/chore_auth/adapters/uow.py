"""Auth's unit of work: one transaction over users, sessions, tokens, throttle, account
tokens, the audit log and the outbox."""

from __future__ import annotations

from typing import Self

from chore_auth.adapters.contracts import to_contract
from chore_auth.adapters.repository import (
    AccountTokenRepository,
    AuditRepository,
    RefreshTokenRepository,
    SessionRepository,
    SigningKeyRepository,
    ThrottleRepository,
    UserRepository,
)
from chore_auth.domain.events import DomainEvent
from chore_common.uow import UnitOfWork


class AuthUnitOfWork(UnitOfWork):
    users: UserRepository
    sessions: SessionRepository
    refresh_tokens: RefreshTokenRepository
    throttle: ThrottleRepository
    signing_keys: SigningKeyRepository
    account_tokens: AccountTokenRepository
    audit: AuditRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.users = UserRepository(self.conn)
        self.sessions = SessionRepository(self.conn)
        self.refresh_tokens = RefreshTokenRepository(self.conn)
        self.throttle = ThrottleRepository(self.conn)
        self.signing_keys = SigningKeyRepository(self.conn)
        self.account_tokens = AccountTokenRepository(self.conn)
        self.audit = AuditRepository(self.conn)
        return self

    def record(self, event: DomainEvent) -> None:
        """Publish `event` once this transaction commits (outbox row, same transaction)."""
        self.outbox.add(to_contract(event))
