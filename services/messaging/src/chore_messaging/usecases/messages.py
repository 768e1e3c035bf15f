"""Sending and reading messages: the one path the WebSocket and REST both take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from chore_common.paging import Page, PageKey
from chore_messaging.domain import inbox, model
from chore_messaging.domain.errors import ConversationNotFound
from chore_messaging.domain.events import MessageSent
from chore_messaging.domain.model import Conversation, Message
from chore_messaging.usecases.ports import Fanout, MessagingUnitOfWork


@dataclass(frozen=True, slots=True)
class SendMessage:
    conversation_id: UUID
    sender_id: UUID
    body: str
    client_msg_id: str


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    duplicate: bool  # the client_msg_id was used before: nothing new was stored


async def send_message(
    uow: MessagingUnitOfWork, cmd: SendMessage, now: datetime, fanout: Fanout
) -> Sent:
    body = model.check_body(cmd.body)
    client_msg_id = model.check_client_msg_id(cmd.client_msg_id)
    async with uow:
        # Take the number first: it locks the conversation, so the duplicate check below
        # cannot race another send of the same client_msg_id.
        conversation = await uow.conversations.take_seq(cmd.conversation_id, cmd.sender_id)
        conversation = model.writable(conversation, cmd.sender_id)
        message = Message(
            id=uuid4(),
            conversation_id=conversation.id,
            seq=conversation.last_seq,
            sender_id=cmd.sender_id,
            body=body,
            client_msg_id=client_msg_id,
            sent_at=now,
        )
        if not await uow.messages.add(message):
            await uow.rollback()  # gives the number back
            first = await uow.messages.by_client_id(conversation.id, cmd.sender_id, client_msg_id)
            if first is None:  # cannot happen: the insert just collided with it
                raise ConversationNotFound("no such conversation")
            return Sent(first, duplicate=True)
        uow.record(
            MessageSent(
                message_id=message.id,
                conversation_id=conversation.id,
                task_id=conversation.task_id,
                sender_id=message.sender_id,
                recipient_id=conversation.peer_of(message.sender_id),
                seq=message.seq,
                body_length=len(message.body),
                sent_at=message.sent_at,
            )
        )
        await uow.conversations.record_message(conversation, message)
        stored, where = message, inbox.moved(conversation, message)

        async def deliver() -> None:
            await fanout.message_stored(where, stored)
            await fanout.conversation_updated(where)

        uow.after_commit(deliver)
        await uow.commit()
    return Sent(message, duplicate=False)


async def conversation_for(
    uow: MessagingUnitOfWork, conversation_id: UUID, user_id: UUID
) -> Conversation:
    async with uow:
        return model.readable(await uow.conversations.get(conversation_id), user_id)


async def history(
    uow: MessagingUnitOfWork, conversation_id: UUID, user_id: UUID, *, after_seq: int, limit: int
) -> list[Message]:
    """Messages after `after_seq`, oldest first; only for a participant."""
    limit = max(1, min(limit, model.HISTORY_LIMIT_MAX))
    async with uow:
        model.readable(await uow.conversations.get(conversation_id), user_id)
        return await uow.messages.after(conversation_id, max(0, after_seq), limit)


async def list_conversations(
    uow: MessagingUnitOfWork, user_id: UUID, *, limit: int, after: PageKey | None
) -> Page[Conversation]:
    async with uow:
        return await uow.conversations.list_for(user_id, limit=limit, after=after)


async def mark_read(
    uow: MessagingUnitOfWork, conversation_id: UUID, user_id: UUID, seq: int, fanout: Fanout
) -> Conversation:
    """Move the reader's mark up to `seq` (never down, never past the last message); the
    other participant hears of it (a `read` receipt) once it commits."""
    async with uow:
        conversation = model.readable(await uow.conversations.get(conversation_id), user_id)
        seq = min(max(0, seq), conversation.last_seq)
        if seq <= conversation.read_seq_of(user_id):
            return conversation
        await uow.conversations.mark_read(conversation, user_id, seq)
        read = inbox.read_up_to(conversation, user_id, seq)

        async def deliver() -> None:
            await fanout.read(read, user_id, seq)

        uow.after_commit(deliver)
        await uow.commit()
        return read


async def unread(uow: MessagingUnitOfWork, user_id: UUID) -> list[tuple[UUID, int]]:
    async with uow:
        return await uow.conversations.unread_for(user_id)
