"""The mail notifier's storage: its repository (address book, queue, presence) and the unit
of work that carries it next to messaging's own repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_messaging.adapters.mail_tables import (
    EMAIL_MAX,
    ERROR_MAX,
    MAIL_ADDRESSES,
    MAIL_PRESENCE,
    MAIL_QUEUE,
    NAME_MAX,
    SUBJECT_MAX,
)
from chore_messaging.adapters.tables import CONVERSATIONS, MESSAGES
from chore_messaging.adapters.uow import MessagingUnitOfWork
from chore_messaging.domain.mail import Address, Letter, Mail, MailKind, MailState, Unread

A, Q, P = MAIL_ADDRESSES, MAIL_QUEUE, MAIL_PRESENCE
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
C, M = CONVERSATIONS, MESSAGES


def _insert(conn: AsyncConnection, table: Table) -> Any:
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def _mail(row: RowMapping) -> Mail:
    return Mail(
        id=row["id"],
        event_id=row["event_id"],
        user_id=row["user_id"],
        kind=MailKind(row["kind"]),
        to_email=row["to_email"],
        to_name=row["to_name"],
        letter=Letter(row["subject"], row["text_body"], row["html_body"]),
        created_at=row["created_at"],
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        state=MailState(row["state"]),
        last_error=row["last_error"],
    )


class MailRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # -- the address book --------------------------------------------------------------

    async def save_address(self, address: Address, now: datetime) -> None:
        values = {
            "email": address.email[:EMAIL_MAX],
            "name": address.name[:NAME_MAX],
            "verified": address.verified,
        }
        stmt = _insert(self.conn, A).values(user_id=address.user_id, updated_at=now, **values)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id"], set_={**values, "updated_at": now}
            )
        )

    async def address(self, user_id: UUID) -> Address | None:
        row = (await self.conn.execute(select(A).where(A.c.user_id == user_id))).first()
        if row is None:
            return None
        return Address(row.user_id, row.email, row.name, bool(row.verified))

    async def forget(self, user_id: UUID) -> None:
        for table in (Q, P):
            await self.conn.execute(delete(table).where(table.c.user_id == user_id))
        await self.save_address(Address.erased(user_id), _EPOCH)

    # -- the queue ---------------------------------------------------------------------

    async def queue(self, mail: Mail) -> bool:
        stmt = _insert(self.conn, Q).values(
            id=mail.id,
            event_id=mail.event_id,
            user_id=mail.user_id,
            kind=mail.kind.value,
            to_email=mail.to_email[:EMAIL_MAX],
            to_name=mail.to_name[:NAME_MAX],
            subject=mail.letter.subject[:SUBJECT_MAX],
            text_body=mail.letter.text,
            html_body=mail.letter.html,
            state=mail.state.value,
            attempts=mail.attempts,
            next_attempt_at=mail.next_attempt_at or mail.created_at,
            last_error=mail.last_error,
            created_at=mail.created_at,
        )
        result = await self.conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["id"]).returning(Q.c.id)
        )
        return result.first() is not None

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Mail]:
        due = (
            select(Q)
            .where(Q.c.state == MailState.QUEUED.value, Q.c.next_attempt_at <= now)
            .order_by(Q.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer anyway
        )
        claimed = []
        for row in (await self.conn.execute(due)).mappings().all():
            # Only if nobody leased it since we read it (SQLite has no SKIP LOCKED).
            taken = await self.conn.execute(
                update(Q)
                .where(Q.c.id == row["id"], Q.c.next_attempt_at == row["next_attempt_at"])
                .values(next_attempt_at=lease_until)
            )
            if taken.rowcount == 1:
                claimed.append(_mail(row))
        return claimed

    async def sent(self, mail_id: UUID, now: datetime) -> None:
        await self.conn.execute(
            update(Q)
            .where(Q.c.id == mail_id)
            .values(state=MailState.SENT.value, sent_at=now, text_body="", html_body="")
        )

    async def retry(self, mail_id: UUID, attempts: int, at: datetime, error: str) -> None:
        await self.conn.execute(
            update(Q)
            .where(Q.c.id == mail_id, Q.c.state == MailState.QUEUED.value)
            .values(attempts=attempts, next_attempt_at=at, last_error=error[:ERROR_MAX])
        )

    async def failed(self, mail_id: UUID, attempts: int, now: datetime, error: str) -> None:
        await self.conn.execute(
            update(Q)
            .where(Q.c.id == mail_id)
            .values(
                state=MailState.FAILED.value,
                attempts=attempts,
                next_attempt_at=now,
                last_error=error[:ERROR_MAX],
                text_body="",
                html_body="",
            )
        )

    # -- presence and the digest -------------------------------------------------------

    async def seen(self, user_ids: set[UUID], now: datetime) -> None:
        for user_id in sorted(user_ids):  # one order on every replica: no deadlock
            stmt = _insert(self.conn, P).values(user_id=user_id, last_seen_at=now)
            await self.conn.execute(
                stmt.on_conflict_do_update(index_elements=["user_id"], set_={"last_seen_at": now})
            )

    async def digested(self, user_id: UUID, now: datetime) -> None:
        stmt = _insert(self.conn, P).values(user_id=user_id, last_digest_at=now)
        await self.conn.execute(
            stmt.on_conflict_do_update(index_elements=["user_id"], set_={"last_digest_at": now})
        )

    async def digest_candidates(
        self, offline_before: datetime
    ) -> dict[UUID, tuple[datetime | None, datetime | None, list[Unread]]]:
        unread = _unread_side(C.c.owner_id, C.c.owner_read_seq).union_all(
            _unread_side(C.c.tasker_id, C.c.tasker_read_seq)
        )
        u = unread.subquery()
        rows = await self.conn.execute(
            select(u, P.c.last_seen_at, P.c.last_digest_at)
            .select_from(u.outerjoin(P, P.c.user_id == u.c.user_id))
            .where(or_(P.c.last_seen_at.is_(None), P.c.last_seen_at < offline_before))
        )
        found: dict[UUID, tuple[datetime | None, datetime | None, list[Unread]]] = {}
        for row in rows.mappings():
            entry = found.setdefault(
                row["user_id"], (row["last_seen_at"], row["last_digest_at"], [])
            )
            entry[2].append(
                Unread(row["conversation_id"], row["title"], int(row["unread"]), row["latest_at"])
            )
        return found


def _unread_side(user: Any, read_seq: Any) -> Any:
    """Per conversation, the messages one side has not read (the other side's only)."""
    return (
        select(
            user.label("user_id"),
            C.c.id.label("conversation_id"),
            C.c.task_title.label("title"),
            func.count(M.c.id).label("unread"),
            func.max(M.c.sent_at).label("latest_at"),
        )
        .select_from(
            C.join(
                M, and_(M.c.conversation_id == C.c.id, M.c.seq > read_seq, M.c.sender_id != user)
            )
        )
        .where(C.c.last_seq > read_seq)
        .group_by(user, C.c.id, C.c.task_title)
    )


class MailUnitOfWork(MessagingUnitOfWork):
    """Messaging's unit of work with the mail repository beside the others."""

    mail: MailRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.mail = MailRepository(self.conn)
        return self
