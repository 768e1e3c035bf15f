"""Issue 24, done-when 2, through the gateway of the whole platform (two replicas each):
assigning one of five offers declines the other four, with one `tasks.offer.declined` event
each in JetStream and one notification each to the right tasker: a WebSocket frame to the
taskers online, a row in their REST notifications for those offline."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats
import pytest

from chore_common.contracts.envelope import Envelope

from .helpers import RunningPlatform, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


async def declined_events(nats_url: str, task_id: str, count: int) -> list[Envelope]:
    """The TASKS stream's `tasks.offer.declined` events of `task_id`, once `count` arrived
    (and a little longer, so a fifth would be caught too)."""
    nc = await nats.connect(nats_url)
    found: list[Envelope] = []
    enough = asyncio.Event()

    async def on_message(msg: Any) -> None:
        envelope = Envelope.from_bytes(msg.data)
        if envelope.data.get("task_id") == task_id:
            found.append(envelope)
            if len(found) >= count:
                enough.set()

    try:
        sub = await nc.jetstream().subscribe(
            "tasks.offer.declined", cb=on_message, ordered_consumer=True
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), demo.EVENT_WAIT_S)
        await asyncio.sleep(0.5)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return found


def declined_frame(task_id: str) -> Any:
    return lambda f: (
        f.get("type") == "notification"
        and f.get("kind") == "offer_declined"
        and f.get("task_id") == task_id
    )


async def test_assigning_one_of_five_offers_declines_four_and_tells_each_tasker(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
    taskers = [
        await demo.log_in(api, await demo.sign_up(api, f"Tasker{n}", "tasker", tag))
        for n in range(5)
    ]
    chosen, online, offline = taskers[0], taskers[1:3], taskers[3:]
    sockets = [await demo.Socket.open(api, t.token) for t in online]
    try:
        for sock in sockets:  # a pong says the socket is registered for notifications
            await sock.send({"type": "ping"})
            await sock.expect(lambda f: f.get("type") == "pong", "pong")
        chore = {"title": f"Clear the loft {tag}", "category": "moving", "budget_cents": 9000}
        task = await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
        task_id = str(task["id"])
        offers = []
        for n, tasker in enumerate(taskers):
            body = {"price_cents": 8000 + n, "message": f"Offer {n}"}
            offers.append(
                await api.call(
                    "POST",
                    f"/tasks/{task_id}/offers",
                    token=tasker.token,
                    json_body=body,
                    expect=(201,),
                )
            )
        assigned = await api.call(
            "POST",
            f"/tasks/{task_id}/assign",
            token=ann.token,
            json_body={"offer_id": offers[0]["id"]},
            headers={"If-Match": f'"{task["version"]}"'},
            expect=(200,),
        )
        assert assigned["assignee_id"] == chosen.id

        events = await declined_events(platform.state()["nats_url"], task_id, 4)
        assert sorted(
            (e.version, e.data["tasker_id"], e.data["offer_id"]) for e in events
        ) == sorted((1, t.id, o["id"]) for t, o in zip(taskers[1:], offers[1:], strict=True))

        for tasker, sock in zip(online, sockets, strict=True):
            frame = await sock.expect(declined_frame(task_id), f"offer_declined to {tasker.name}")
            assert frame["title"] == chore["title"]
            offer_id = offers[taskers.index(tasker)]["id"]
            assert frame["data"]["offer_id"] == offer_id
        for tasker in offline:
            notes = await demo.notified(api, tasker, task_id)
            assert [(n["kind"], n["data"]["offer_id"]) for n in notes] == [
                ("offer_declined", offers[taskers.index(tasker)]["id"])
            ]
        # Each declined tasker was told once, and the chosen one not at all.
        for tasker in taskers[1:]:
            notes = [n for n in await demo.notifications(api, tasker) if n["task_id"] == task_id]
            assert [n["kind"] for n in notes] == ["offer_declined"], tasker.name
        chosen_notes = await demo.notified(api, chosen, task_id)
        assert [n["kind"] for n in chosen_notes] == ["task_assigned"]
        for sock in sockets:
            kinds = [f.get("kind") for f in sock.seen if f.get("type") == "notification"]
            assert kinds == ["offer_declined"]
    finally:
        for sock in sockets:
            await sock.close()
