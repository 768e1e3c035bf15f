"""SQL repositories of conversations, messages and notifications (PostgreSQL and SQLite).

Inserts that may repeat use the dialect's `ON CONFLICT DO NOTHING`: a repeat is an answer
("already there"), not an error that would abort the transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, case, delete, or_, select, tuple_, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_common.paging import Page, PageKey
from chore_messaging.adapters.tables import (
    CONVERSATIONS,
    MESSAGES,
    NOTIFICATION_SETTINGS,
    NOTIFICATIONS,
    PEOPLE,
)
from chore_messaging.domain import inbox
from chore_messaging.domain.model import Conversation, Message, Notification, NotificationKind
from chore_messaging.domain.people import DELETED_NAME, Person
from chore_messaging.domain.preferences import Channel, Preferences, QuietHours, SettingKind

C, M, N, S = CONVERSATIONS, MESSAGES, NOTIFICATIONS, NOTIFICATION_SETTINGS


def _insert_ignoring(conn: AsyncConnection, table: Table, keys: list[str]) -> Any:
    """`INSERT ... ON CONFLICT (keys) DO NOTHING` for the connection's dialect."""
    dialect = conn.dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(index_elements=keys)


def _conversation(row: RowMapping) -> Conversation:
    return Conversation(
        id=row["id"],
        task_id=row["task_id"],
        owner_id=row["owner_id"],
        tasker_id=row["tasker_id"],
        task_title=row["task_title"],
        is_open=bool(row["is_open"]),
        last_seq=int(row["last_seq"]),
        created_at=row["created_at"],
        owner_read_seq=int(row["owner_read_seq"]),
        tasker_read_seq=int(row["tasker_read_seq"]),
        last_activity_at=row["last_activity_at"],
        last_preview=row["last_preview"],
        last_sender_id=row["last_sender_id"],
        task_status=row["task_status"],
    )


def _message(row: RowMapping) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=int(row["seq"]),
        sender_id=row["sender_id"],
        body=row["body"],
        client_msg_id=row["client_msg_id"],
        sent_at=row["sent_at"],
    )


def _notification(row: RowMapping) -> Notification:
    return Notification(
        id=row["id"],
        user_id=row["user_id"],
        kind=NotificationKind(row["kind"]),
        task_id=row["task_id"],
        title=row["title"],
        created_at=row["created_at"],
        data=dict(row["data"] or {}),
        read_at=row["read_at"],
    )


class ConversationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, conversation_id: UUID) -> Conversation | None:
        row = (await self.conn.execute(select(C).where(C.c.id == conversation_id))).first()
        return None if row is None else _conversation(row._mapping)

    async def add_if_absent(self, conversation: Conversation) -> bool:
        stmt = _insert_ignoring(self.conn, C, ["id"]).values(
            id=conversation.id,
            task_id=conversation.task_id,
            owner_id=conversation.owner_id,
            tasker_id=conversation.tasker_id,
            task_title=conversation.task_title,
            is_open=conversation.is_open,
            last_seq=conversation.last_seq,
            owner_read_seq=0,
            tasker_read_seq=0,
            created_at=conversation.created_at,
            last_activity_at=conversation.activity_at,
            last_preview="",
            task_status=conversation.task_status,
        )
        result = await self.conn.execute(stmt.returning(C.c.id))
        return result.first() is not None

    async def take_seq(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        stmt = (
            update(C)
            .where(
                C.c.id == conversation_id, or_(C.c.owner_id == user_id, C.c.tasker_id == user_id)
            )
            .values(last_seq=C.c.last_seq + 1)
            .returning(*C.c)
        )
        row = (await self.conn.execute(stmt)).first()
        return None if row is None else _conversation(row._mapping)

    async def close_task(self, task_id: UUID) -> list[Conversation]:
        await self.conn.execute(
            update(C)
            .where(C.c.task_id == task_id, C.c.is_open.is_(True))
            .values(is_open=False, closed_at=_now())
        )
        return await self.of_task(task_id)

    async def reopen_task(self, task_id: UUID) -> list[Conversation]:
        await self.conn.execute(
            update(C)
            .where(C.c.task_id == task_id, C.c.is_open.is_(False))
            .values(is_open=True, closed_at=None)
        )
        return await self.of_task(task_id)

    async def of_task(self, task_id: UUID) -> list[Conversation]:
        rows = await self.conn.execute(
            select(C).where(C.c.task_id == task_id).order_by(C.c.created_at, C.c.id)
        )
        return [_conversation(r._mapping) for r in rows]

    async def list_for(
        self, user_id: UUID, *, limit: int, after: PageKey | None
    ) -> Page[Conversation]:
        # Two index range scans (as owner, as tasker) merged: each walks its own
        # (user, last_activity_at, id) index backwards and stops after limit + 1 rows.
        sides = [self._side(C.c.owner_id, user_id, after, limit + 1)]
        sides.append(self._side(C.c.tasker_id, user_id, after, limit + 1))
        merged = union_all(*sides).subquery()
        query = select(merged).order_by(merged.c.last_activity_at.desc(), merged.c.id.desc())
        rows = await self.conn.execute(query.limit(limit + 1))
        items = [_conversation(r._mapping) for r in rows]
        more = len(items) > limit
        items = items[:limit]
        key = PageKey(items[-1].activity_at, items[-1].id) if more and items else None
        return Page(items, key)

    @staticmethod
    def _side(column: Any, user_id: UUID, after: PageKey | None, limit: int) -> Any:
        query = select(C).where(column == user_id)
        if after is not None:
            pair = tuple_(C.c.last_activity_at, C.c.id)
            query = query.where(pair < (after.created_at, after.id))
        order = (C.c.last_activity_at.desc(), C.c.id.desc())
        # A subquery each: SQLite takes no ORDER BY / LIMIT on a bare member of a UNION.
        return select(query.order_by(*order).limit(limit).subquery())

    async def unread_for(self, user_id: UUID) -> list[tuple[UUID, int]]:
        """(conversation, unread) for each of the user's conversations with unread messages."""
        mine = case((C.c.owner_id == user_id, C.c.owner_read_seq), else_=C.c.tasker_read_seq)
        query = select(C.c.id, C.c.last_seq - mine).where(
            or_(C.c.owner_id == user_id, C.c.tasker_id == user_id), C.c.last_seq > mine
        )
        return [(r[0], int(r[1])) for r in await self.conn.execute(query.order_by(C.c.id))]

    async def mark_read(self, conversation: Conversation, user_id: UUID, seq: int) -> None:
        column = C.c.owner_read_seq if user_id == conversation.owner_id else C.c.tasker_read_seq
        await self.conn.execute(
            update(C).where(C.c.id == conversation.id, column < seq).values({column: seq})
        )

    async def record_message(self, conversation: Conversation, message: Message) -> None:
        """The message is the conversation's latest: its inbox line, and its sender has read
        up to it (domain/inbox.py)."""
        mine = "owner_read_seq" if message.sender_id == conversation.owner_id else "tasker_read_seq"
        await self.conn.execute(
            update(C)
            .where(C.c.id == conversation.id)
            .values(
                {
                    "last_activity_at": message.sent_at,
                    "last_preview": inbox.preview(message.body),
                    "last_sender_id": message.sender_id,
                    mine: message.seq,
                }
            )
        )

    async def set_task_status(self, task_id: UUID, status: str) -> None:
        await self.conn.execute(update(C).where(C.c.task_id == task_id).values(task_status=status))


class MessageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, message: Message) -> bool:
        stmt = _insert_ignoring(
            self.conn, M, ["conversation_id", "sender_id", "client_msg_id"]
        ).values(
            id=message.id,
            conversation_id=message.conversation_id,
            seq=message.seq,
            sender_id=message.sender_id,
            body=message.body,
            client_msg_id=message.client_msg_id,
            sent_at=message.sent_at,
        )
        result = await self.conn.execute(stmt.returning(M.c.id))
        return result.first() is not None

    async def by_client_id(
        self, conversation_id: UUID, sender_id: UUID, client_msg_id: str
    ) -> Message | None:
        row = (
            await self.conn.execute(
                select(M).where(
                    M.c.conversation_id == conversation_id,
                    M.c.sender_id == sender_id,
                    M.c.client_msg_id == client_msg_id,
                )
            )
        ).first()
        return None if row is None else _message(row._mapping)

    async def after(self, conversation_id: UUID, after_seq: int, limit: int) -> list[Message]:
        rows = await self.conn.execute(
            select(M)
            .where(M.c.conversation_id == conversation_id, M.c.seq > after_seq)
            .order_by(M.c.seq)
            .limit(limit)
        )
        return [_message(r._mapping) for r in rows]

    async def between(
        self, conversation_id: UUID, after_seq: int, before_seq: int
    ) -> list[Message]:
        rows = await self.conn.execute(
            select(M)
            .where(
                M.c.conversation_id == conversation_id,
                and_(M.c.seq > after_seq, M.c.seq < before_seq),
            )
            .order_by(M.c.seq)
        )
        return [_message(r._mapping) for r in rows]


class NotificationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, notification: Notification) -> bool:
        stmt = _insert_ignoring(self.conn, N, ["id"]).values(
            id=notification.id,
            user_id=notification.user_id,
            kind=notification.kind.value,
            task_id=notification.task_id,
            title=notification.title,
            data=notification.data,
            created_at=notification.created_at,
            read_at=notification.read_at,
        )
        result = await self.conn.execute(stmt.returning(N.c.id))
        return result.first() is not None

    async def list_for(
        self, user_id: UUID, *, limit: int, after: PageKey | None, unread_only: bool
    ) -> Page[Notification]:
        query = select(N).where(N.c.user_id == user_id)
        if unread_only:
            query = query.where(N.c.read_at.is_(None))
        if after is not None:
            query = query.where(tuple_(N.c.created_at, N.c.id) < (after.created_at, after.id))
        query = query.order_by(N.c.created_at.desc(), N.c.id.desc()).limit(limit + 1)
        items = [_notification(r._mapping) for r in await self.conn.execute(query)]
        more = len(items) > limit
        items = items[:limit]
        key = PageKey(items[-1].created_at, items[-1].id) if more and items else None
        return Page(items, key)

    async def mark_read(
        self, notification_id: UUID, user_id: UUID, now: datetime
    ) -> Notification | None:
        await self.conn.execute(
            update(N)
            .where(N.c.id == notification_id, N.c.user_id == user_id, N.c.read_at.is_(None))
            .values(read_at=now)
        )
        row = (
            await self.conn.execute(
                select(N).where(N.c.id == notification_id, N.c.user_id == user_id)
            )
        ).first()
        return None if row is None else _notification(row._mapping)

    async def forget_user(self, user_id: UUID) -> None:
        await self.conn.execute(delete(N).where(N.c.user_id == user_id))


def _now() -> datetime:
    return datetime.now(UTC)


class PreferencesRepository:
    """Notification settings, one row per user who saved any."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, user_id: UUID) -> Preferences:
        row = (await self.conn.execute(select(S).where(S.c.user_id == user_id))).first()
        return Preferences() if row is None else _preferences(row._mapping)

    async def put(self, user_id: UUID, prefs: Preferences, now: datetime) -> None:
        values = {
            "channels": {k.value: sorted(c.value for c in v) for k, v in prefs.channels.items()},
            "time_zone": prefs.time_zone,
            "quiet_start": None if prefs.quiet is None else prefs.quiet.start.strftime("%H:%M"),
            "quiet_end": None if prefs.quiet is None else prefs.quiet.end.strftime("%H:%M"),
            "updated_at": now,
        }
        dialect: Any = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(S).values(user_id=user_id, **values)
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))

    async def forget(self, user_id: UUID) -> None:
        await self.conn.execute(delete(S).where(S.c.user_id == user_id))


P = PEOPLE
_FRESH = {"name": None, "deleted": False, "rating_count": 0, "rating_total": 0}


class PeopleRepository:
    """`people`: one row per user messaging heard of. Each change is one upsert, so
    concurrent events about one user never lose a count; a deleted name is final."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def named(self, user_id: UUID, name: str, now: datetime) -> None:
        await self._upsert(user_id, now, {"name": name}, where=P.c.deleted.is_(False))

    async def deleted(self, user_id: UUID, now: datetime) -> None:
        await self._upsert(user_id, now, {"name": DELETED_NAME, "deleted": True})

    async def rated(self, user_id: UUID, rating: int, now: datetime) -> None:
        added = {"rating_count": P.c.rating_count + 1, "rating_total": P.c.rating_total + rating}
        await self._upsert(user_id, now, added, fresh={"rating_count": 1, "rating_total": rating})

    async def completed(self, user_id: UUID, now: datetime) -> None:
        added = {"completed_count": P.c.completed_count + 1}
        await self._upsert(user_id, now, added, fresh={"completed_count": 1})

    async def _upsert(
        self,
        user_id: UUID,
        now: datetime,
        change: dict[str, Any],
        *,
        fresh: dict[str, Any] | None = None,
        where: Any = None,
    ) -> None:
        """Insert the row as `fresh` (or `change`) would make it, else apply `change`."""
        first = {**_FRESH, "completed_count": 0, **(fresh if fresh is not None else change)}
        dialect: Any = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(P).values(user_id=user_id, updated_at=now, **first)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id"], set_={**change, "updated_at": now}, where=where
            )
        )

    async def of(self, user_ids: list[UUID]) -> dict[UUID, Person]:
        """A person for each id asked (a nameless one for ids never heard of)."""
        ids = list(dict.fromkeys(user_ids))
        found = {uid: Person(uid) for uid in ids}
        if ids:
            for row in await self.conn.execute(select(P).where(P.c.user_id.in_(ids))):
                m = row._mapping
                found[m["user_id"]] = Person(
                    id=m["user_id"],
                    name=m["name"],
                    rating_count=int(m["rating_count"]),
                    rating_total=int(m["rating_total"]),
                    completed_count=int(m["completed_count"]),
                )
        return found


def _preferences(row: RowMapping) -> Preferences:
    channels = Preferences().channels
    for kind, on in dict(row["channels"] or {}).items():
        if kind in SettingKind.__members__.values():
            channels[SettingKind(kind)] = frozenset(Channel(c) for c in on if c in set(Channel))
    quiet = None
    if row["quiet_start"] and row["quiet_end"]:
        quiet = QuietHours(
            time.fromisoformat(row["quiet_start"]), time.fromisoformat(row["quiet_end"])
        )
    return Preferences(channels=channels, time_zone=row["time_zone"], quiet=quiet)
