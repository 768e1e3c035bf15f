"""One trace from the gateway through a service, into the outbox relay's publish and on into
a consumer in another service: the span tree as an OTLP collector receives it, with every
process exporting to an in-process OTLP/HTTP receiver. Sampled, the tree is complete; not
sampled, nothing is exported, and the trace id still reaches every service's log lines."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

from chore_common.testing.otlp import OtlpReceiver, ReceivedSpan

from .helpers import RunningPlatform, demo, launch_platform

pytestmark = [pytest.mark.system, pytest.mark.slow]


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, db_backend: str
) -> Iterator[tuple[RunningPlatform, OtlpReceiver]]:
    with OtlpReceiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",  # the prod overlay's sampler
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        var = tmp_path_factory.mktemp("traced") / "var"
        with launch_platform(var, db_backend, 1, env=env) as platform:
            yield platform, receiver


async def offer_under(platform: RunningPlatform, traceparent: str) -> None:
    """A client's chore, then a tasker's offer sent with `traceparent`: the offer is what
    tasks publishes and messaging consumes (it opens the conversation)."""
    tag = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as session:
        # Once any test configured tracing in this process, aiohttp sessions are instrumented
        # and would send a traceparent of their own instead of the caller's given here.
        AioHttpClientInstrumentor.uninstrument_session(session)
        api = demo.Api(session, platform.url)
        ann = await demo.log_in(api, await demo.sign_up(api, "Ann", "client", tag))
        bob = await demo.log_in(api, await demo.sign_up(api, "Bob", "tasker", tag))
        chore = {"title": "Trace a chore", "category": "garden", "budget_cents": 2000}
        task = await api.call("POST", "/tasks", token=ann.token, json_body=chore, expect=(201,))
        async with session.post(
            f"{platform.url}/tasks/{task['id']}/offers",
            json={"price_cents": 1500, "message": "traced"},
            headers={"Authorization": f"Bearer {bob.token}", "traceparent": traceparent},
        ) as response:
            assert response.status == 201, await response.text()
        await demo.conversation_with(api, ann, str(task["id"]), bob)  # the consumer ran


def spans_until(
    receiver: OtlpReceiver, trace_id: str, done: Any, timeout: float = 15.0
) -> list[ReceivedSpan]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = receiver.spans_of(trace_id)
        if done(spans):
            return spans
        time.sleep(0.1)
    return receiver.spans_of(trace_id)


def one(spans: list[ReceivedSpan], service: str, kind: str, parent: str) -> ReceivedSpan:
    found = [s for s in spans if (s.service, s.kind, s.parent_id) == (service, kind, parent)]
    assert len(found) == 1, (service, kind, [(s.service, s.kind, s.name) for s in spans])
    return found[0]


async def test_a_sampled_request_is_one_span_tree_from_the_gateway_to_the_consumer(
    traced: tuple[RunningPlatform, OtlpReceiver],
) -> None:
    platform, receiver = traced
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    await offer_under(platform, f"00-{trace_id}-{caller}-01")

    # Each process exports on its own schedule: wait until every part of the tree is in.
    parts = {("gateway", "SERVER"), ("gateway", "CLIENT"), ("tasks", "SERVER"),
             ("tasks", "PRODUCER"), ("messaging", "CONSUMER")}  # fmt: skip

    def complete(spans: list[ReceivedSpan]) -> bool:
        return parts <= {(s.service, s.kind) for s in spans}

    spans = spans_until(receiver, trace_id, complete)
    gateway = one(spans, "gateway", "SERVER", caller)
    upstream = one(spans, "gateway", "CLIENT", gateway.span_id)
    tasks = one(spans, "tasks", "SERVER", upstream.span_id)
    assert tasks.name == "POST /tasks/{task_id}/offers"
    publish = one(spans, "tasks", "PRODUCER", tasks.span_id)
    assert publish.name == "tasks.offer.created publish"
    consume = one(spans, "messaging", "CONSUMER", publish.span_id)
    assert consume.name == "tasks.offer.created process"
    # The service's statements are spans under its request too.
    assert any(s.service == "tasks" and s.kind == "CLIENT" and s.parent_id for s in spans)


async def test_a_request_not_sampled_exports_nothing_yet_every_log_line_keeps_its_trace(
    traced: tuple[RunningPlatform, OtlpReceiver],
) -> None:
    platform, receiver = traced
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    before = len(platform.lines)
    await offer_under(platform, f"00-{trace_id}-{caller}-00")
    await asyncio.sleep(1.0)  # longer than the exporters' batch delay
    assert receiver.spans_of(trace_id) == []
    logged = set()
    for line in platform.lines[before:]:
        _, _, text = line.partition("| ")
        if f'"trace_id":"{trace_id}"' in text.replace(" ", ""):
            logged.add(json.loads(text)["service"])
    assert {"gateway", "tasks"} <= logged
