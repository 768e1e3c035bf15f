"""/messaging/conversations: the caller's conversations, their history, sending (the REST
mirror of the WebSocket).

A conversation the caller does not take part in is a 404, exactly like one that does not
exist: existence is not leaked (docs/messaging.md).
"""

from __future__ import annotations

from aiohttp import web

from chore_common.auth.principal import principal
from chore_common.clock import utcnow
from chore_common.http.openapi import ApiRoutes
from chore_common.http.pagination import PageQuery, next_cursor, page_key
from chore_common.http.requests import path_id
from chore_common.http.validation import json_response, parse_body, parse_query
from chore_messaging.api.schemas import (
    ConversationOut,
    ConversationPage,
    HistoryQuery,
    MessageIn,
    MessageOut,
    MessagePage,
    ReadIn,
    ReadOut,
    UnreadItem,
    UnreadOut,
)
from chore_messaging.domain.errors import ConversationNotFound
from chore_messaging.keys import FANOUT, UOW
from chore_messaging.usecases import messages, people

routes = ApiRoutes()
CONVERSATIONS = ("conversations",)


@routes.get(
    "/messaging/conversations",
    query=PageQuery,
    response=ConversationPage,
    tags=CONVERSATIONS,
    summary="The caller's inbox: conversations by last activity, with previews and unread",
)
async def list_conversations(request: web.Request) -> web.Response:
    query = parse_query(request, PageQuery)
    who = principal(request).user_id
    page = await messages.list_conversations(
        request.app[UOW](), who, limit=query.limit, after=page_key(query.cursor)
    )
    peers = await people.people(request.app[UOW](), [c.peer_of(who) for c in page.items])
    out = ConversationPage(
        items=[ConversationOut.of(c, who, peers[c.peer_of(who)]) for c in page.items],
        next_cursor=next_cursor(page.next_key),
    )
    return json_response(out)


@routes.get(
    "/messaging/conversations/{conversation_id}/messages",
    query=HistoryQuery,
    response=MessagePage,
    tags=CONVERSATIONS,
    summary="Messages after `after_seq`, oldest first (participants only)",
    errors=(404,),
)
async def list_messages(request: web.Request) -> web.Response:
    query = parse_query(request, HistoryQuery)
    found = await messages.history(
        request.app[UOW](),
        path_id(request, "conversation_id", ConversationNotFound),
        principal(request).user_id,
        after_seq=query.after_seq,
        limit=query.limit,
    )
    more = len(found) == query.limit
    out = MessagePage(
        items=[MessageOut.of(m) for m in found],
        next_after_seq=found[-1].seq if more and found else None,
    )
    return json_response(out)


@routes.post(
    "/messaging/conversations/{conversation_id}/messages",
    body=MessageIn,
    response=MessageOut,
    status=201,
    tags=CONVERSATIONS,
    summary="Send a message; a repeated client_msg_id stores nothing and answers the first (200)",
    errors=(404, 409, 422),
)
async def send_message(request: web.Request) -> web.Response:
    body = await parse_body(request, MessageIn)
    cmd = messages.SendMessage(
        conversation_id=path_id(request, "conversation_id", ConversationNotFound),
        sender_id=principal(request).user_id,
        body=body.body,
        client_msg_id=body.client_msg_id,
    )
    sent = await messages.send_message(request.app[UOW](), cmd, utcnow(), request.app[FANOUT])
    return json_response(MessageOut.of(sent.message), status=200 if sent.duplicate else 201)


@routes.post(
    "/messaging/conversations/{conversation_id}/read",
    body=ReadIn,
    response=ReadOut,
    tags=CONVERSATIONS,
    summary="Mark read up to `seq` (the REST twin of the `read` frame); the other "
    "participant gets a `read` receipt",
    errors=(404, 422),
)
async def mark_read(request: web.Request) -> web.Response:
    body = await parse_body(request, ReadIn)
    who = principal(request).user_id
    found = await messages.mark_read(
        request.app[UOW](),
        path_id(request, "conversation_id", ConversationNotFound),
        who,
        body.seq,
        request.app[FANOUT],
    )
    read_seq = found.read_seq_of(who)
    out = ReadOut(
        conversation_id=found.id, read_seq=read_seq, unread=max(0, found.last_seq - read_seq)
    )
    return json_response(out)


@routes.get(
    "/messaging/unread",
    response=UnreadOut,
    tags=CONVERSATIONS,
    summary="The caller's unread messages: the total and per conversation",
)
async def unread(request: web.Request) -> web.Response:
    found = await messages.unread(request.app[UOW](), principal(request).user_id)
    items = [UnreadItem(conversation_id=c, unread=n) for c, n in found]
    return json_response(UnreadOut(total=sum(i.unread for i in items), conversations=items))
