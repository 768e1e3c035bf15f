"""The inbox: conversations by last activity, each with a preview and the caller's unread count.

Unread is counted without scanning messages: sending counts as having read everything up to
one's own message (the sender's read mark moves to it), so every message after a user's read
mark is from the other participant and `last_seq - read_seq` is their unread count.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final
from uuid import UUID

from chore_messaging.domain.model import Conversation, Message

PREVIEW_MAX: Final = 120  # characters of the last message shown in the inbox


def preview(body: str) -> str:
    """The inbox line of a message: its first characters, whitespace runs folded to one space."""
    return " ".join(body.split())[:PREVIEW_MAX]


def unread(last_seq: int, read_seq: int) -> int:
    return max(0, last_seq - read_seq)


def moved(conversation: Conversation, message: Message) -> Conversation:
    """The conversation once `message` (its latest) is stored: the sender has read it."""
    line = replace(
        conversation,
        last_activity_at=message.sent_at,
        last_preview=preview(message.body),
        last_sender_id=message.sender_id,
    )
    return read_up_to(line, message.sender_id, message.seq)


def read_up_to(conversation: Conversation, user_id: UUID, seq: int) -> Conversation:
    if user_id == conversation.owner_id:
        return replace(conversation, owner_read_seq=max(seq, conversation.owner_read_seq))
    return replace(conversation, tasker_read_seq=max(seq, conversation.tasker_read_seq))
