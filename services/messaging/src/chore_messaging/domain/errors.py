"""Messaging's domain errors; each subclasses a `chore_common.errors` base (the HTTP status)."""

from __future__ import annotations

from chore_common.errors import Conflict, InvalidInput, NotFound


class ConversationNotFound(NotFound, code="conversation_not_found", title="Conversation not found"):
    """Also what a non-participant gets: a conversation's existence is not leaked."""


class ConversationClosed(Conflict, code="conversation_closed", title="Conversation closed"): ...


class NotificationNotFound(
    NotFound, code="notification_not_found", title="Notification not found"
): ...


class InvalidMessage(InvalidInput, code="invalid_message", title="Invalid message"): ...


class MessageNotFound(NotFound, code="message_not_found", title="Message not found"):
    """Also what a non-participant gets for a message of another conversation."""


class ReportNotFound(NotFound, code="report_not_found", title="Report not found"): ...
