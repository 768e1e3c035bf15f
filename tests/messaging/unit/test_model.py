"""Conversations' rules: who reads, who writes, what a message may hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from chore_common.errors import InvalidInput
from chore_messaging.domain import model
from chore_messaging.domain.errors import ConversationClosed, ConversationNotFound, InvalidMessage

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def conversation() -> model.Conversation:
    return model.open_conversation(
        task_id=uuid4(), owner_id=uuid4(), tasker_id=uuid4(), title="Mow", now=NOW
    )


def test_one_conversation_per_task_and_tasker() -> None:
    task, tasker = uuid4(), uuid4()
    assert model.conversation_id(task, tasker) == model.conversation_id(task, tasker)
    assert model.conversation_id(task, tasker) != model.conversation_id(task, uuid4())
    c = model.open_conversation(
        task_id=task, owner_id=uuid4(), tasker_id=tasker, title="t", now=NOW
    )
    assert c.id == model.conversation_id(task, tasker)
    assert (c.is_open, c.last_seq) == (True, 0)


def test_an_owner_cannot_converse_with_themselves() -> None:
    me = uuid4()
    with pytest.raises(InvalidInput):
        model.open_conversation(task_id=uuid4(), owner_id=me, tasker_id=me, title="t", now=NOW)


def test_only_the_two_participants_read_and_write() -> None:
    c = conversation()
    assert model.readable(c, c.owner_id) is c
    assert model.writable(c, c.tasker_id) is c
    assert c.peer_of(c.owner_id) == c.tasker_id
    assert c.peer_of(c.tasker_id) == c.owner_id
    for who in (uuid4(),):
        with pytest.raises(ConversationNotFound):
            model.readable(c, who)
        with pytest.raises(ConversationNotFound):
            model.writable(c, who)
    with pytest.raises(ConversationNotFound):  # missing and forbidden look the same
        model.readable(None, c.owner_id)


def test_a_closed_conversation_is_read_only() -> None:
    c = replace(conversation(), is_open=False)
    assert model.readable(c, c.owner_id) is c
    with pytest.raises(ConversationClosed):
        model.writable(c, c.owner_id)
    with pytest.raises(ConversationNotFound):  # a stranger still learns nothing
        model.writable(c, uuid4())


def test_read_marks_are_per_participant() -> None:
    c = replace(conversation(), owner_read_seq=3, tasker_read_seq=7)
    assert c.read_seq_of(c.owner_id) == 3
    assert c.read_seq_of(c.tasker_id) == 7


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "empty_body"), ("  \n", "empty_body"), ("x" * (model.BODY_MAX + 1), "body_too_long")],
)
def test_message_bodies_have_limits(body: str, code: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        model.check_body(body)
    assert caught.value.code == code


def test_a_body_at_the_limit_is_fine() -> None:
    body = "é" * model.BODY_MAX  # characters, not bytes
    assert model.check_body(body) == body


@pytest.mark.parametrize("client_msg_id", ["", "x" * (model.CLIENT_MSG_ID_MAX + 1)])
def test_client_msg_ids_have_limits(client_msg_id: str) -> None:
    with pytest.raises(InvalidMessage):
        model.check_client_msg_id(client_msg_id)


def test_notification_ids_are_per_event_and_recipient() -> None:
    event, a, b = uuid4(), uuid4(), uuid4()
    assert model.notification_id(event, a) == model.notification_id(event, a)
    assert model.notification_id(event, a) != model.notification_id(event, b)
    assert model.notification_id(event, a) != model.notification_id(uuid4(), a)
