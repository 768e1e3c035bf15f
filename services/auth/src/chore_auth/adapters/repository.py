"""Load and save auth's aggregates. Repositories never commit: the unit of work does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, delete, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_auth.adapters.tables import (
    account_tokens,
    audit_log,
    login_failures,
    refresh_tokens,
    sessions,
    signing_keys,
    users,
)
from chore_auth.domain.account_tokens import AccountToken, Purpose
from chore_auth.domain.audit import AuditAction, AuditEntry, AuditFilter
from chore_auth.domain.errors import EmailTaken
from chore_auth.domain.model import AccountStatus, RefreshToken, Role, Session, User
from chore_auth.domain.throttle import Failures
from chore_common.paging import PageKey


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        bio=row.bio,
        skills=tuple(row.skills or ()),
        avatar_url=row.avatar_url,
        city=row.city,
        email_verified_at=row.email_verified_at,
        status=AccountStatus(row.status),
        status_reason=row.status_reason,
        deleted_at=row.deleted_at,
    )


def _session(row: Any) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        user_agent=row.user_agent,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
    )


def _refresh(row: Any) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        session_id=row.session_id,
        token_hash=row.token_hash,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        sealed_successor=row.sealed_successor,
    )


class UserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def get(self, user_id: UUID) -> User | None:
        row = (await self.db.execute(select(users).where(users.c.id == user_id))).first()
        return None if row is None else _user(row)

    async def by_email(self, email: str) -> User | None:
        row = (await self.db.execute(select(users).where(users.c.email == email))).first()
        return None if row is None else _user(row)

    async def add(self, user: User) -> None:
        try:
            async with self.db.begin_nested():
                await self.db.execute(insert(users).values(**_user_values(user)))
        except IntegrityError:
            # Two sign-ups for one email raced past the check: the loser gets the same 409.
            raise EmailTaken("An account with this email already exists.") from None

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: datetime) -> None:
        await self.db.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, updated_at=now)
        )

    async def save(self, user: User) -> None:
        values = _user_values(user)
        del values["id"]
        try:
            async with self.db.begin_nested():
                await self.db.execute(update(users).where(users.c.id == user.id).values(values))
        except IntegrityError:
            raise EmailTaken("An account with this email already exists.") from None


def _user_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "bio": user.bio,
        "skills": list(user.skills),
        "avatar_url": user.avatar_url,
        "city": user.city,
        "email_verified_at": user.email_verified_at,
        "status": user.status.value,
        "status_reason": user.status_reason,
        "deleted_at": user.deleted_at,
    }


class SessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def get(self, session_id: UUID) -> Session | None:
        query = select(sessions).where(sessions.c.id == session_id)
        row = (await self.db.execute(query)).first()
        return None if row is None else _session(row)

    async def of_user(self, user_id: UUID, *, active_at: datetime) -> list[Session]:
        query = (
            select(sessions)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > active_at,
            )
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        )
        return [_session(row) for row in await self.db.execute(query)]

    async def all_of_user(self, user_id: UUID) -> list[Session]:
        """Ended ones too, newest first: what an export lists."""
        query = (
            select(sessions)
            .where(sessions.c.user_id == user_id)
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        )
        return [_session(row) for row in await self.db.execute(query)]

    async def add(self, session: Session) -> None:
        await self.db.execute(insert(sessions).values(**_session_values(session)))

    async def save(self, session: Session) -> None:
        values = _session_values(session)
        del values["id"]
        await self.db.execute(update(sessions).where(sessions.c.id == session.id).values(values))


def _session_values(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "user_id": session.user_id,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "expires_at": session.expires_at,
        "user_agent": session.user_agent,
        "revoked_at": session.revoked_at,
        "revoke_reason": session.revoke_reason,
    }


class RefreshTokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        query = select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
        row = (await self.db.execute(query)).first()
        return None if row is None else _refresh(row)

    async def add(self, token: RefreshToken) -> None:
        await self.db.execute(
            insert(refresh_tokens).values(
                id=token.id,
                session_id=token.session_id,
                token_hash=token.token_hash,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def mark_used(self, token_id: UUID, now: datetime, *, sealed_successor: bytes) -> bool:
        """Compare-and-set: True for the one caller that turned it from unused to used."""
        result = await self.db.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.id == token_id, refresh_tokens.c.used_at.is_(None))
            .values(used_at=now, sealed_successor=sealed_successor)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


class ThrottleRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def get(self, key: str) -> Failures | None:
        query = select(login_failures).where(login_failures.c.key == key)
        row = (await self.db.execute(query)).first()
        if row is None:
            return None
        m = row._mapping
        return Failures(m["key"], m["count"], m["window_start"])

    async def count_attempt(self, key: str, *, now: datetime, window: timedelta) -> Failures:
        """Count one attempt atomically and return the stored count.

        The same rule as `domain.throttle.record_failure` (a window that has ended starts
        over at 1), in one upsert: read-then-write would let a burst of concurrent attempts
        all see "no row yet" and each store a count of 1.
        """
        dialect = self.db.dialect.name
        build = pg_insert if dialect == "postgresql" else sqlite_insert
        stored = login_failures.c
        ended = stored.window_start <= now - window
        started = literal(now, type_=stored.window_start.type)
        upsert = (
            build(login_failures)
            .values(key=key, count=1, window_start=now)
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case((ended, 1), else_=stored.count + 1),
                    "window_start": case((ended, started), else_=stored.window_start),
                },
            )
            .returning(stored.count, stored.window_start)
        )
        count, window_start = (await self.db.execute(upsert)).one()
        return Failures(key, count, window_start)

    async def refund(self, key: str, *, by: int = 1) -> None:
        """Take back `by` counted attempts (they turned out to be the owner's), down to 0."""
        stored = login_failures.c
        await self.db.execute(
            update(login_failures)
            .where(stored.key == key, stored.count > 0)
            .values(count=case((stored.count > by, stored.count - by), else_=0))
        )

    async def clear(self, key: str) -> None:
        await self.db.execute(delete(login_failures).where(login_failures.c.key == key))

    async def forget_started_before(self, cutoff: datetime) -> int:
        result = await self.db.execute(
            delete(login_failures).where(login_failures.c.window_start < cutoff)
        )
        return int(getattr(result, "rowcount", 0))


class SigningKeyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def all(self) -> list[Any]:
        query = select(signing_keys).order_by(signing_keys.c.activates_at)
        return list(await self.db.execute(query))

    async def add(
        self, kid: str, private_pem: str, *, now: datetime, activates_at: datetime
    ) -> None:
        await self.db.execute(
            insert(signing_keys).values(
                kid=kid, private_pem=private_pem, created_at=now, activates_at=activates_at
            )
        )

    async def retire_all(self, *, at: datetime, except_kid: str) -> None:
        await self.db.execute(
            update(signing_keys)
            .where(signing_keys.c.retired_at.is_(None), signing_keys.c.kid != except_kid)
            .values(retired_at=at)
        )

    async def delete_retired_before(self, cutoff: datetime) -> int:
        result = await self.db.execute(
            delete(signing_keys).where(signing_keys.c.retired_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0))


def _account_token(row: Any) -> AccountToken:
    return AccountToken(
        id=row.id,
        user_id=row.user_id,
        purpose=Purpose(row.purpose),
        token_hash=row.token_hash,
        email=row.email,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class AccountTokenRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def by_hash(self, token_hash: str) -> AccountToken | None:
        query = select(account_tokens).where(account_tokens.c.token_hash == token_hash)
        row = (await self.db.execute(query)).first()
        return None if row is None else _account_token(row)

    async def add(self, token: AccountToken) -> None:
        await self.db.execute(
            insert(account_tokens).values(
                id=token.id,
                user_id=token.user_id,
                purpose=token.purpose.value,
                token_hash=token.token_hash,
                email=token.email,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
            )
        )

    async def mark_used(self, token_id: UUID, now: datetime) -> bool:
        """Compare-and-set: True for the one request that spent the token."""
        result = await self.db.execute(
            update(account_tokens)
            .where(account_tokens.c.id == token_id, account_tokens.c.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def delete_of_user(self, user_id: UUID) -> None:
        await self.db.execute(delete(account_tokens).where(account_tokens.c.user_id == user_id))


def _audit(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        action=AuditAction(row.action),
        actor_id=row.actor_id,
        target_id=row.target_id,
        client_ip=row.client_ip,
        detail=row.detail,
    )


class AuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.db = conn

    async def add(self, entry: AuditEntry) -> None:
        await self.db.execute(
            insert(audit_log).values(
                id=entry.id,
                at=entry.at,
                action=entry.action.value,
                actor_id=entry.actor_id,
                target_id=entry.target_id,
                client_ip=entry.client_ip,
                detail=entry.detail,
            )
        )

    async def page(
        self, where: AuditFilter, *, after: PageKey | None, limit: int
    ) -> list[AuditEntry]:
        """Newest first on (at, id), strictly after the keyset `after`."""
        c = audit_log.c
        conditions = []
        if where.action is not None:
            conditions.append(c.action == where.action.value)
        if where.actor_id is not None:
            conditions.append(c.actor_id == where.actor_id)
        if where.target_id is not None:
            conditions.append(c.target_id == where.target_id)
        if where.since is not None:
            conditions.append(c.at >= where.since)
        if where.until is not None:
            conditions.append(c.at < where.until)
        if after is not None:
            at, row_id = after
            conditions.append(or_(c.at < at, and_(c.at == at, c.id < row_id)))
        query = select(audit_log).where(*conditions).order_by(c.at.desc(), c.id.desc()).limit(limit)
        return [_audit(row) for row in await self.db.execute(query)]

    async def purge_before(self, cutoff: datetime) -> int:
        result = await self.db.execute(delete(audit_log).where(audit_log.c.at < cutoff))
        return int(getattr(result, "rowcount", 0))
