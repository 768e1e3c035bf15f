"""In-memory stand-ins with the shapes of auth's ports, for use-case unit tests."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Self
from uuid import UUID

from chore_auth.adapters.refresh_tokens import open_successor, seal_successor
from chore_auth.domain.audit import AuditEntry
from chore_auth.domain.errors import EmailTaken
from chore_auth.domain.events import DomainEvent
from chore_auth.domain.model import AccessClaims, RefreshToken, Session, User
from chore_auth.domain.sessions import SessionPolicy
from chore_auth.domain.throttle import Failures, LoginThrottle, ThrottlePolicy, record_failure


class Store:
    def __init__(self) -> None:
        self.users: dict[UUID, User] = {}
        self.sessions: dict[UUID, Session] = {}
        self.tokens: dict[UUID, RefreshToken] = {}
        self.failures: dict[str, Failures] = {}
        self.audit: list[AuditEntry] = []
        self.published: list[DomainEvent] = []


class Users:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, user_id: UUID) -> User | None:
        return self.store.users.get(user_id)

    async def by_email(self, email: str) -> User | None:
        return next((u for u in self.store.users.values() if u.email == email), None)

    async def add(self, user: User) -> None:
        if await self.by_email(user.email):
            raise EmailTaken()
        self.store.users[user.id] = user

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: datetime) -> None:
        user = self.store.users[user_id]
        self.store.users[user_id] = replace(user, password_hash=password_hash, updated_at=now)


class Sessions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, session_id: UUID) -> Session | None:
        return self.store.sessions.get(session_id)

    async def of_user(self, user_id: UUID, *, active_at: datetime) -> list[Session]:
        found = [s for s in self.store.sessions.values() if s.user_id == user_id]
        return [s for s in found if s.active(active_at)]

    async def add(self, session: Session) -> None:
        self.store.sessions[session.id] = session

    async def save(self, session: Session) -> None:
        self.store.sessions[session.id] = session


class Tokens:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self.store.tokens.values() if t.token_hash == token_hash), None)

    async def add(self, token: RefreshToken) -> None:
        self.store.tokens[token.id] = token

    async def mark_used(self, token_id: UUID, now: datetime, *, sealed_successor: bytes) -> bool:
        token = self.store.tokens[token_id]
        if token.used_at is not None:
            return False
        self.store.tokens[token_id] = replace(token, used_at=now, sealed_successor=sealed_successor)
        return True


class Throttle:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, key: str) -> Failures | None:
        return self.store.failures.get(key)

    async def count_attempt(self, key: str, *, now: datetime, window: timedelta) -> Failures:
        policy = ThrottlePolicy(max_failures=0, window=window)
        counted = record_failure(self.store.failures.get(key), key, policy, now=now)
        self.store.failures[key] = counted
        return counted

    async def refund(self, key: str, *, by: int = 1) -> None:
        stored = self.store.failures.get(key)
        if stored is not None and stored.count > 0:
            self.store.failures[key] = replace(stored, count=max(0, stored.count - by))

    async def clear(self, key: str) -> None:
        self.store.failures.pop(key, None)

    async def forget_started_before(self, cutoff: datetime) -> int:
        ended = [k for k, f in self.store.failures.items() if f.window_start < cutoff]
        for key in ended:
            del self.store.failures[key]
        return len(ended)


class Audit:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, entry: AuditEntry) -> None:
        self.store.audit.append(entry)


class FakeUnitOfWork:
    """Writes land in the shared store only on commit, like a transaction."""

    def __init__(self, store: Store) -> None:
        self.committed = store
        self._after: list[Callable[[], Awaitable[None]]] = []
        self._events: list[DomainEvent] = []

    async def __aenter__(self) -> Self:
        self.work = Store()
        self.work.users = dict(self.committed.users)
        self.work.sessions = dict(self.committed.sessions)
        self.work.tokens = dict(self.committed.tokens)
        self.work.failures = dict(self.committed.failures)
        self.work.audit = list(self.committed.audit)
        self.users = Users(self.work)
        self.sessions = Sessions(self.work)
        self.refresh_tokens = Tokens(self.work)
        self.throttle = Throttle(self.work)
        self.signing_keys: Any = None
        self.audit = Audit(self.work)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._after.append(callback)

    async def commit(self) -> None:
        self.committed.users = self.work.users
        self.committed.sessions = self.work.sessions
        self.committed.tokens = self.work.tokens
        self.committed.failures = self.work.failures
        self.committed.audit = self.work.audit
        self.committed.published += self._events
        for callback in self._after:
            await callback()


class FakeHasher:
    """Counts checks, including the dummy one for unknown emails (password_hash=None)."""

    def __init__(self, params: str = "v1") -> None:
        self.params = params
        self.checked: list[str | None] = []

    async def hash(self, password: str) -> str:
        return f"{self.params}:{password}"

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.checked.append(password_hash)
        return password_hash is not None and password_hash.split(":", 1)[1] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"{self.params}:")


class FakeSigner:
    def sign(self, claims: AccessClaims) -> str:
        return f"access:{claims.sid}:{claims.jti}"


class FakeMint:
    """Counted tokens, a plain SHA-256, and the real sealing (pure, nothing to fake)."""

    def __init__(self) -> None:
        self.counter = itertools.count()

    def new_token(self) -> tuple[str, str]:
        token = f"rt_{next(self.counter)}"
        return token, self.hash_token(token)

    def hash_token(self, token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def seal_successor(self, token: str, successor: str) -> bytes:
        return seal_successor(token, successor)

    def open_successor(self, token: str, sealed: bytes) -> str | None:
        return open_successor(token, sealed)


@dataclass
class FakePorts:
    """The ports the app's keys hold, as fakes; `login`/`refresh` are the use cases' keywords."""

    uow: Callable[[], FakeUnitOfWork]
    hasher: FakeHasher
    on_revoked: Callable[[UUID], None]
    signer: FakeSigner = field(default_factory=FakeSigner)
    mint: FakeMint = field(default_factory=FakeMint)
    session_policy: SessionPolicy = field(
        default_factory=lambda: SessionPolicy(reuse_grace=timedelta(seconds=5))
    )
    login_throttle: LoginThrottle = field(
        default_factory=lambda: LoginThrottle(
            per_address=ThrottlePolicy(10, timedelta(minutes=15)),
            per_account=ThrottlePolicy(3, timedelta(minutes=15)),
        )
    )

    @property
    def login(self) -> dict[str, Any]:
        return {
            "hasher": self.hasher,
            "signer": self.signer,
            "mint": self.mint,
            "session_policy": self.session_policy,
            "login_throttle": self.login_throttle,
        }

    @property
    def refresh(self) -> dict[str, Any]:
        return {
            "mint": self.mint,
            "signer": self.signer,
            "session_policy": self.session_policy,
            "on_revoked": self.on_revoked,
        }


def fake_deps(
    store: Store, hasher: FakeHasher | None = None, revoked: list[UUID] | None = None
) -> FakePorts:
    return FakePorts(
        uow=lambda: FakeUnitOfWork(store),
        hasher=hasher or FakeHasher(),
        on_revoked=(revoked.append if revoked is not None else lambda _: None),
    )
