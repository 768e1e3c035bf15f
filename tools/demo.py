"""`make demo`: a marketplace day, played through the gateway of a running platform.

    python tools/demo.py [--url http://127.0.0.1:8080]

The gateway's URL comes from --url, else GATEWAY_URL, else var/platform.json (written by
`make run`). A client and two taskers sign up and log in, the client posts a chore with a
place, a tasker finds it by words and distance, both taskers offer, the client and one
tasker chat over the WebSocket, the client assigns the chore (the other offer is declined and
its tasker told), the tasker starts it and marks it done, the client confirms it (it is then
completed), both review each other (double-blind: public once both wrote), and both read
their notifications. Then the declined tasker forgets her password: the reset mail arrives at
the gateway's /dev/mail (`make run` only; skipped with a note elsewhere), its link's token
sets a new password, and she logs in with it. Each step prints OK or FAIL with a short
detail; the exit code is 0 only when every step is OK.

The steps are also a library: tests/system plays the same day against the platform it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"  # noqa: S105 - the demo accounts' password
EVENT_WAIT_S = 10.0  # events cross NATS in milliseconds; this is the "something is wrong" bound
T = TypeVar("T")


# --- talking to the gateway -----------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status, self.body = status, body
        code = body.get("code") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else str(body)[:200]
        super().__init__(f"{method} {path} -> {status} {code or ''} {detail or ''}".strip())


class Api:
    """JSON over the gateway: one pooled aiohttp session, problem+json turned into ApiError."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def ws_url(self, path: str) -> str:
        return "ws" + self.url(path).removeprefix("http")

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        expect: Iterable[int] = (200, 201, 204),
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.url(path), json=json_body, headers=sent
        ) as response:
            text = await response.text()
            body: Any = None
            if text:
                try:
                    body = json.loads(text)
                except ValueError:
                    body = text
            if response.status not in set(expect):
                raise ApiError(method, path, response.status, body)
            return body


@dataclass
class User:
    id: str
    email: str
    name: str
    role: str
    token: str = ""
    session_id: str = ""


async def sign_up(api: Api, name: str, role: str, tag: str) -> User:
    email = f"{name.lower()}+{tag}@example.com"
    body = {"email": email, "password": PASSWORD, "name": name, "role": role}
    user = await api.call("POST", "/auth/register", json_body=body, expect=(201,))
    return User(id=str(user["id"]), email=email, name=name, role=role)


async def log_in(api: Api, user: User) -> User:
    body = {"email": user.email, "password": PASSWORD}
    tokens = await api.call("POST", "/auth/login", json_body=body, expect=(200,))
    user.token = tokens["access_token"]
    return user


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, within: float = EVENT_WAIT_S
) -> T:
    """Poll `probe` until it returns something: events reach other services asynchronously."""
    deadline = time.monotonic() + within
    delay = 0.02
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not seen within {within:g} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


async def conversation_with(api: Api, user: User, task_id: str, tasker: User) -> dict[str, Any]:
    """The conversation of (task, tasker), as `user` sees it, once messaging has opened it."""

    async def probe() -> dict[str, Any] | None:
        page = await api.call("GET", "/messaging/conversations?limit=100", token=user.token)
        for conv in page["items"]:
            if str(conv.get("task_id")) == task_id and str(conv.get("tasker_id")) == tasker.id:
                return conv  # type: ignore[no-any-return]
        return None

    return await eventually(probe, f"conversation on task {task_id[:8]} with {tasker.name}")


async def notifications(api: Api, user: User) -> list[dict[str, Any]]:
    page = await api.call("GET", "/messaging/notifications?limit=100", token=user.token)
    return list(page["items"])


async def notified(api: Api, user: User, task_id: str, count: int = 1) -> list[dict[str, Any]]:
    """`user`'s notifications about `task_id`, once there are at least `count` of them."""

    async def probe() -> list[dict[str, Any]] | None:
        mine = [n for n in await notifications(api, user) if _mentions(n, task_id)]
        return mine if len(mine) >= count else None

    return await eventually(probe, f"{count} notification(s) for {user.name}")


def _mentions(item: Any, task_id: str) -> bool:
    """Whether a notification names the task, wherever its shape keeps the id."""
    if isinstance(item, dict):
        return any(_mentions(v, task_id) for v in item.values())
    if isinstance(item, list):
        return any(_mentions(v, task_id) for v in item)
    return str(item) == task_id


def notification_kind(item: dict[str, Any]) -> str:
    for key in ("kind", "event", "type", "event_type"):
        if isinstance(item.get(key), str):
            return str(item[key])
    return "?"


class Socket:
    """One WebSocket on /messaging/ws: frames in a queue, helpers to wait for the one we want."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, api: Api, token: str, url: str | None = None) -> Socket:
        # The token rides in Sec-WebSocket-Protocol, where browsers can put it too.
        ws = await api.session.ws_connect(
            url or api.ws_url("/messaging/ws"), protocols=("bearer", token), heartbeat=20
        )
        return cls(ws)

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frame = json.loads(msg.data)
                self.seen.append(frame)
                await self.frames.put(frame)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json(frame)

    async def expect(
        self, match: Callable[[dict[str, Any]], bool], what: str, within: float = EVENT_WAIT_S
    ) -> dict[str, Any]:
        """The next frame `match` accepts; an error frame or a closed socket fails at once."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what}: no such frame within {within:g} s")
            try:
                frame = await asyncio.wait_for(self.frames.get(), min(left, 0.25))
            except TimeoutError:
                if self.ws.closed:
                    raise ConnectionError(f"{what}: socket closed ({self.ws.close_code})") from None
                continue
            if match(frame):
                return frame
            if frame.get("type") == "error":
                raise RuntimeError(
                    f"{what}: error frame {frame.get('code')}: {frame.get('detail')}"
                )

    async def subscribe(self, conversation_id: str, since_seq: int | None = None) -> None:
        frame: dict[str, Any] = {"type": "subscribe", "conversation_id": conversation_id}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        await self.send(frame)
        # A ping after the subscribe: its pong says the subscription is in place.
        await self.send({"type": "ping"})
        await self.expect(lambda f: f.get("type") == "pong", "pong after subscribe")

    async def say(self, conversation_id: str, body: str) -> dict[str, Any]:
        client_msg_id = str(uuid.uuid4())
        await self.send(
            {"type": "send", "conversation_id": conversation_id, "body": body,
             "client_msg_id": client_msg_id}
        )  # fmt: skip
        return await self.expect(
            lambda f: f.get("type") == "ack" and f.get("client_msg_id") == client_msg_id,
            "ack of a sent message",
        )

    async def message(self, conversation_id: str, body: str) -> dict[str, Any]:
        return await self.expect(
            lambda f: (
                f.get("type") == "message"
                and f.get("conversation_id") == conversation_id
                and f.get("body") == body
            ),
            f"message {body!r}",
        )

    async def wait_closed(self) -> int | None:
        """Until the server closes the socket; its close code."""
        await asyncio.shield(self._reader)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


# --- the day, step by step ------------------------------------------------------------------


@dataclass
class Step:
    number: int
    name: str
    ok: bool
    detail: str
    seconds: float


class StepFailed(Exception):
    def __init__(self, step: Step) -> None:
        self.step = step
        super().__init__(f"step {step.number} ({step.name}) failed: {step.detail}")


@dataclass
class Day:
    """Runs the steps in order, printing each; the first failure stops the day."""

    printer: Callable[[Step], None] | None = None
    steps: list[Step] = field(default_factory=list)

    async def step(
        self, name: str, action: Callable[[], Awaitable[T]], detail: Callable[[T], str]
    ) -> T:
        started = time.monotonic()
        try:
            result = await action()
        except Exception as exc:  # every failure is reported the same way
            step = Step(len(self.steps) + 1, name, False, _describe(exc),
                        time.monotonic() - started)  # fmt: skip
            self._record(step)
            raise StepFailed(step) from exc
        step = Step(len(self.steps) + 1, name, True, detail(result), time.monotonic() - started)
        self._record(step)
        return result

    def _record(self, step: Step) -> None:
        self.steps.append(step)
        if self.printer is not None:
            self.printer(step)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, ApiError | TimeoutError) else f"{type(exc).__name__}: {text}"


@dataclass
class DayResult:
    client: User
    taskers: tuple[User, User]
    task: dict[str, Any]
    review: dict[str, Any]
    conversation_id: str
    messages: list[dict[str, Any]]


async def marketplace_day(api: Api, day: Day, tag: str | None = None) -> DayResult:
    """The whole day through the gateway. Raises StepFailed at the first step that fails."""
    tag = tag or uuid.uuid4().hex[:8]

    await day.step("gateway ready", lambda: api.call("GET", "/readyz"), lambda _: api.base_url)
    ann = await day.step("client Ann signs up", lambda: sign_up(api, "Ann", "client", tag), _who)
    bob = await day.step("tasker Bob signs up", lambda: sign_up(api, "Bob", "tasker", tag), _who)
    cat = await day.step("tasker Cat signs up", lambda: sign_up(api, "Cat", "tasker", tag), _who)
    for user in (ann, bob, cat):
        await day.step(f"{user.name} logs in", _bind(log_in, api, user), lambda _: "token received")

    chore = {
        "title": "Assemble a wardrobe",
        "description": "IKEA PAX, two doors, bedroom on the second floor",
        "category": "assembly",
        "budget_cents": 6000,
        "currency": "EUR",
        "location": {"lat": 52.5200, "lon": 13.4050, "address": "Alexanderplatz, Berlin"},
    }
    task = await day.step(
        "Ann posts a chore",
        lambda: api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,)),
        lambda t: f"task {_short(t['id'])} '{t['title']}' is {t['status']}",
    )
    task_id = str(task["id"])

    near_bob = {"q": "wardrobe", "near": "52.5163,13.3777", "radius_km": "5", "sort": "distance"}
    await day.step(
        "Bob finds it by words and distance",
        lambda: api.call("GET", f"/tasks?{urlencode(near_bob)}", token=bob.token),
        lambda page: _found(page, task_id),
    )

    offers: dict[str, dict[str, Any]] = {}
    for tasker, price in ((bob, 5500), (cat, 6200)):
        body = {"price_cents": price, "message": f"{tasker.name} here, I have the tools."}
        offers[tasker.name] = await day.step(
            f"{tasker.name} offers {price / 100:.2f}",
            _bind(_offer, api, tasker, task_id, body),
            lambda o: f"offer {_short(o['id'])} {o['status']}",
        )
    await day.step(
        "Ann sees both offers",
        lambda: _both_offers(api, ann, task_id),
        lambda page: (
            f"{len(page)} offers: " + ", ".join(f"{o['price_cents'] / 100:.2f}" for o in page)
        ),
    )

    conv = await day.step(
        "messaging opened Ann's chat with Bob",
        lambda: conversation_with(api, ann, task_id, bob),
        lambda c: f"conversation {_short(c['id'])} (from the offer event)",
    )
    conv_id = str(conv["id"])
    ann_ws = await day.step(
        "Ann and Bob connect to the WebSocket",
        lambda: _connect_both(api, ann, bob, conv_id),
        lambda _: "both subscribed",
    )
    messages: list[dict[str, Any]] = []
    try:
        ann_sock, bob_sock = ann_ws
        question = "Hi Bob, could you come on Saturday at 10?"
        answer = "Saturday at 10 works. I'll bring a drill."
        messages.append(
            await day.step(
                "Ann writes, Bob receives it live",
                lambda: _say_and_hear(ann_sock, bob_sock, conv_id, question),
                lambda m: f"seq {m['seq']} delivered to Bob",
            )
        )
        messages.append(
            await day.step(
                "Bob answers, Ann receives it live",
                lambda: _say_and_hear(bob_sock, ann_sock, conv_id, answer),
                lambda m: f"seq {m['seq']} delivered to Ann",
            )
        )
        await day.step(
            "Ann's inbox: newest, previews, unread",
            lambda: _inbox_with_unread(api, ann),
            _inbox_line,
        )
        await day.step(
            "Ann reads; Bob sees the read receipt",
            lambda: _read_and_receipt(ann_sock, bob_sock, conv_id, messages[-1]["seq"]),
            lambda r: f"read by Ann up to seq {r['seq']}",
        )
    finally:
        for sock in ann_ws:
            await sock.close()

    bob_offer = offers["Bob"]
    task = await day.step(
        "Ann assigns the chore to Bob",
        lambda: api.call(
            "POST",
            f"/tasks/{task_id}/assign",
            token=ann.token,
            json_body={"offer_id": bob_offer["id"]},
        ),
        lambda t: f"{t['status']}, assignee Bob",
    )
    await day.step(
        "Cat's offer is declined, and Cat is told",
        lambda: notified(api, cat, task_id, count=1),
        _kinds,
    )
    task = await day.step(
        "Bob starts",
        lambda: api.call("POST", f"/tasks/{task_id}/start", token=bob.token),
        lambda t: str(t["status"]),
    )
    task = await day.step(
        "Bob marks it done",
        lambda: api.call("POST", f"/tasks/{task_id}/complete", token=bob.token),
        lambda t: str(t["status"]),
    )
    task = await day.step(
        "Ann confirms the work",
        lambda: api.call(
            "POST",
            f"/tasks/{task_id}/confirm",
            token=ann.token,
            headers={"If-Match": f'"{task["version"]}"'},
        ),
        lambda t: str(t["status"]),
    )
    review = await day.step(
        "Ann reviews Bob",
        lambda: api.call(
            "POST",
            f"/tasks/{task_id}/review",
            token=ann.token,
            json_body={"rating": 5, "comment": "Quick and tidy."},
            expect=(201,),
        ),
        lambda r: f"{r['rating']} stars, hidden until Bob writes his (double-blind)",
    )
    await day.step(
        "Bob reviews Ann",
        lambda: api.call(
            "POST",
            f"/tasks/{task_id}/review",
            token=bob.token,
            json_body={"rating": 5, "comment": "Clear brief, coffee on arrival."},
            expect=(201,),
        ),
        lambda r: f"{r['rating']} stars",
    )
    await day.step(
        "Both reviews public: Bob's rating",
        lambda: eventually_visible(api, ann, bob.id),
        lambda page: f"{page['rating']['count']} review(s), mean {page['rating']['mean']}",
    )
    await day.step(
        "Ann's notifications",
        lambda: notified(api, ann, task_id, count=2),
        _kinds,
    )
    await day.step(
        "Bob's notifications",
        lambda: notified(api, bob, task_id, count=1),
        _kinds,
    )
    return DayResult(ann, (bob, cat), task, review, conv_id, messages)


NEW_PASSWORD = "a new password, chosen with care"  # noqa: S105 - the demo's reset target
# The reset link (not the verification link, which carries a token too).
RESET_TOKEN = re.compile(r"/reset-password\?token=([A-Za-z0-9_\-.~%]+)")


async def password_reset(api: Api, day: Day, user: User) -> bool:
    """`user` forgets the password: the reset mail arrives at the gateway's /dev/mail, its
    link's token sets a new password, and the new password logs in. /dev/mail exists only
    under `make run`; elsewhere the step says so and the rest is skipped (False)."""
    mailbox = await day.step(
        "A dev mailbox at /dev/mail",
        lambda: api.call("GET", "/dev/mail.json", expect=(200, 404)),
        lambda box: "yes" if isinstance(box, dict) else "absent (not `make run`): reset skipped",
    )
    if not isinstance(mailbox, dict):
        return False
    await day.step(
        f"{user.name} forgets the password",
        lambda: api.call(
            "POST", "/auth/password/forgot", json_body={"email": user.email}, expect=(202,)
        ),
        lambda _: "202, the same answer for any address",
    )
    token = await day.step(
        "The reset mail arrives at /dev/mail",
        _bind(_reset_token, api, user),
        lambda _: f"to {user.email}, with a single-use link",
    )
    await day.step(
        "The link's token sets a new password",
        lambda: api.call(
            "POST",
            "/auth/password/reset",
            json_body={"token": token, "password": NEW_PASSWORD},
            expect=(204,),
        ),
        lambda _: "204, every session ended",
    )
    body = {"email": user.email, "password": NEW_PASSWORD}
    tokens = await day.step(
        f"{user.name} logs in with the new password",
        lambda: api.call("POST", "/auth/login", json_body=body, expect=(200,)),
        lambda _: "200",
    )
    user.token = tokens["access_token"]
    return True


async def _reset_token(api: Api, user: User) -> str:
    """The token in the newest reset mail to `user` in the dev mailbox, once it is there."""

    async def probe() -> str | None:
        box = await api.call("GET", "/dev/mail.json")
        for mail in box["items"]:
            found = RESET_TOKEN.search(mail.get("text", ""))
            if user.email in mail.get("to", "") and found:
                return unquote(found.group(1))
        return None

    return await eventually(probe, f"a reset mail to {user.email} at /dev/mail")


async def eventually_visible(api: Api, reader: User, user_id: str) -> dict[str, Any]:
    """A user's public reviews page once at least one review of them is visible."""

    async def probe() -> dict[str, Any] | None:
        page = await api.call("GET", f"/tasks/users/{user_id}/reviews", token=reader.token)
        return page if page["items"] else None

    return await eventually(probe, "a visible review")


def _found(page: dict[str, Any], task_id: str) -> str:
    ids = [str(t["id"]) for t in page["items"]]
    if task_id not in ids:
        raise LookupError(f"the chore is not among the {len(ids)} found")
    return f"found, {len(ids)} result(s) by distance"


def _bind(fn: Callable[..., Awaitable[T]], *args: Any) -> Callable[[], Awaitable[T]]:
    """A step's action with its arguments fixed now (a lambda in a loop would see the last)."""
    return lambda: fn(*args)


async def _offer(api: Api, tasker: User, task_id: str, body: dict[str, Any]) -> Any:
    return await api.call(
        "POST", f"/tasks/{task_id}/offers", token=tasker.token, json_body=body, expect=(201,)
    )


def _who(user: User) -> str:
    return f"{user.email} ({user.role}, id {_short(user.id)})"


def _short(value: Any) -> str:
    return str(value)[:8]


def _kinds(items: list[dict[str, Any]]) -> str:
    return f"{len(items)}: " + ", ".join(notification_kind(n) for n in items)


async def _both_offers(api: Api, owner: User, task_id: str) -> list[dict[str, Any]]:
    page = await api.call("GET", f"/tasks/{task_id}/offers", token=owner.token)
    items = list(page["items"])
    if len(items) != 2:
        raise AssertionError(f"expected 2 offers, saw {len(items)}")
    return items


async def _connect_both(api: Api, a: User, b: User, conv_id: str) -> tuple[Socket, Socket]:
    first = await Socket.open(api, a.token)
    try:
        second = await Socket.open(api, b.token)
    except BaseException:
        await first.close()
        raise
    try:
        await first.subscribe(conv_id)
        await second.subscribe(conv_id)
    except BaseException:
        await first.close()
        await second.close()
        raise
    return first, second


async def _say_and_hear(
    speaker: Socket, listener: Socket, conv_id: str, body: str
) -> dict[str, Any]:
    ack = await speaker.say(conv_id, body)
    heard = await listener.message(conv_id, body)
    if heard["seq"] != ack["seq"]:
        raise AssertionError(f"acked seq {ack['seq']} but delivered seq {heard['seq']}")
    return heard


async def _inbox_with_unread(api: Api, user: User) -> list[dict[str, Any]]:
    """The user's inbox once its top conversation shows an unread message (the inbox line is
    written with the message, so this is at once)."""

    async def probe() -> list[dict[str, Any]] | None:
        page = await api.call("GET", "/messaging/conversations", token=user.token)
        items: list[dict[str, Any]] = page["items"]
        return items if items and items[0].get("unread") else None

    return await eventually(probe, f"{user.name}'s inbox with an unread message")


def _inbox_line(items: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{_short(c['id'])} '{c.get('preview', '')[:32]}' ({c.get('unread', 0)} unread)"
        for c in items
    )


async def _read_and_receipt(reader: Socket, peer: Socket, conv_id: str, seq: int) -> dict[str, Any]:
    await reader.send({"type": "read", "conversation_id": conv_id, "seq": seq})
    return await peer.expect(
        lambda f: f.get("type") == "read" and f.get("seq") == seq, "a read receipt"
    )


# --- the command ----------------------------------------------------------------------------


def gateway_url(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("GATEWAY_URL"):
        return os.environ["GATEWAY_URL"]
    try:
        state = json.loads((ROOT / "var" / "platform.json").read_text())
    except (OSError, ValueError):
        return None
    url = state.get("url")
    return url if isinstance(url, str) else None


def print_step(step: Step) -> None:
    mark = "OK  " if step.ok else "FAIL"
    print(f"{step.number:>3}. {step.name:<40} {mark} {step.detail}", flush=True)


async def run(base_url: str) -> int:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = Api(session, base_url)
        try:
            await api.call("GET", "/healthz")
        except (aiohttp.ClientError, TimeoutError, ApiError) as exc:
            print(f"demo: the platform is not answering at {base_url} ({_describe(exc)}).")
            print("demo: start it with `make run` in another shell, then run `make demo` again.")
            return 2
        print(f"A marketplace day through the gateway at {base_url}\n")
        day = Day(printer=print_step)
        started = time.monotonic()
        try:
            result = await marketplace_day(api, day)
            await password_reset(api, day, result.taskers[1])
        except StepFailed as failed:
            print(f"\ndemo: FAILED at step {failed.step.number} ({failed.step.name}).")
            return 1
        print(f"\nEvery step OK: {len(day.steps)} steps in {time.monotonic() - started:.2f} s.")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the gateway (default GATEWAY_URL, else var/platform.json)")
    args = parser.parse_args(argv)
    url = gateway_url(args.url)
    if url is None:
        print("demo: no running platform found (no var/platform.json and no GATEWAY_URL).")
        print("demo: start it with `make run` in another shell, then run `make demo` again.")
        return 2
    return asyncio.run(run(url))


if __name__ == "__main__":
    sys.exit(main())
