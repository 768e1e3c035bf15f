"""What messaging holds about one user, read for their export (`GET /messaging/me/export`)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chore_messaging.adapters.mail_tables import MAIL_ADDRESSES, MAIL_QUEUE
from chore_messaging.adapters.repository import (
    PreferencesRepository,
    _conversation,
    _message,
    _notification,
)
from chore_messaging.adapters.tables import CONVERSATIONS, MESSAGES, NOTIFICATIONS
from chore_messaging.usecases.ports import MailRecord, UserData

C, M, N, Q = CONVERSATIONS, MESSAGES, NOTIFICATIONS, MAIL_QUEUE


class UserDataRepository:
    """Every row about the user, oldest first: their conversations with every message in
    them (sent and received), their notifications, settings, mail address and mail log."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def of(self, user_id: UUID) -> UserData:
        mine = or_(C.c.owner_id == user_id, C.c.tasker_id == user_id)
        conversations = select(C).where(mine).order_by(C.c.created_at, C.c.id)
        messages = (
            select(M)
            .join(C, C.c.id == M.c.conversation_id)
            .where(mine)
            .order_by(C.c.created_at, C.c.id, M.c.seq)
        )
        notes = select(N).where(N.c.user_id == user_id).order_by(N.c.created_at, N.c.id)
        mails = select(Q).where(Q.c.user_id == user_id).order_by(Q.c.created_at, Q.c.id)
        address = select(MAIL_ADDRESSES.c.email).where(MAIL_ADDRESSES.c.user_id == user_id)
        run = self.conn.execute
        return UserData(
            conversations=[_conversation(r) for r in (await run(conversations)).mappings()],
            messages=[_message(r) for r in (await run(messages)).mappings()],
            notifications=[_notification(r) for r in (await run(notes)).mappings()],
            preferences=await PreferencesRepository(self.conn).get(user_id),
            mail_address=(await run(address)).scalar(),
            mails=[
                MailRecord(
                    kind=r["kind"],
                    to_email=r["to_email"],
                    subject=r["subject"],
                    state=r["state"],
                    created_at=r["created_at"],
                    sent_at=r["sent_at"],
                )
                for r in (await run(mails)).mappings()
            ],
        )
