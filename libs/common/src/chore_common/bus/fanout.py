"""Core-NATS fan-out: for what every replica must see at once, not once per service.

Cache invalidation, socket fan-out between messaging replicas and session revocation are
broadcasts: each running replica gets each message (no queue group), nothing is stored,
and a replica that was down simply starts fresh. Durable, once-per-service work belongs in
a JetStream consumer instead.

Subjects live under `fanout.` so they never fall into a JetStream stream's subjects
(`tasks.>` would capture them and charge a PubAck per broadcast).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import BaseModel, ValidationError

from chore_common.telemetry import tracing

log = logging.getLogger(__name__)

PREFIX: Final = "fanout"
M = TypeVar("M", bound=BaseModel)


def fanout_subject(topic: str) -> str:
    """`tasks.cache` -> `fanout.tasks.cache`."""
    return topic if topic.startswith(f"{PREFIX}.") else f"{PREFIX}.{topic}"


async def broadcast(nc: NATS, topic: str, message: BaseModel | bytes) -> None:
    """Send `message` to every subscriber of `topic` on every replica (fire and forget)."""
    data = message if isinstance(message, bytes) else message.model_dump_json().encode()
    headers: dict[str, str] = {}
    tracing.inject(headers)
    await nc.publish(fanout_subject(topic), data, headers=headers or None)


async def listen(
    nc: NATS,
    topic: str,
    model: type[M],
    callback: Callable[[M], Awaitable[None]],
) -> Subscription:
    """Call `callback` with each message on `topic` parsed as `model`; bad ones are logged.

    Returns the subscription; `await sub.unsubscribe()` to stop.
    """

    async def on_message(msg: Msg) -> None:
        try:
            parsed = model.model_validate_json(msg.data)
        except ValidationError:
            log.warning("fanout.bad_message", extra={"subject": msg.subject})
            return
        try:
            await callback(parsed)
        except Exception:  # one bad callback must not stop the subscription
            log.exception("fanout.callback_failed", extra={"subject": msg.subject})

    return await nc.subscribe(fanout_subject(topic), cb=on_message)


async def listen_raw(
    nc: NATS, topic: str, callback: Callable[[bytes], Awaitable[None]]
) -> Subscription:
    """Like `listen`, for payloads that are not pydantic models (e.g. pre-encoded frames)."""

    async def on_message(msg: Msg) -> None:
        try:
            await callback(msg.data)
        except Exception:
            log.exception("fanout.callback_failed", extra={"subject": msg.subject})

    return await nc.subscribe(fanout_subject(topic), cb=on_message)
