"""One trace from an HTTP request through the outbox relay's publish into the consumer."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest
from aiohttp import web
from common import busapp
from common.busapp import PingedV1, applied, open_bus, wait_until
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from chore_common.outbox.relay import Relay
from chore_common.testing.nats import NatsServer, free_port
from chore_common.uow import UnitOfWork

pytestmark = pytest.mark.db


async def test_one_trace_runs_from_the_request_through_the_relay_into_the_consumer(
    nats_factory: Callable[[], NatsServer], database_url: str, spans: InMemorySpanExporter
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        relay = Relay(bus.engine, bus.js, service="trace-test")
        relay.start()
        consumer = busapp.consumer(bus.js, bus.engine, "trace-applier")
        consumer.start()

        async def ping(request: web.Request) -> web.Response:
            # What the HTTP middleware does: continue the caller's traceparent.
            parent = propagate.extract(dict(request.headers))
            tracer = trace.get_tracer("test.http")
            with tracer.start_as_current_span("POST /pings", context=parent, kind=SpanKind.SERVER):
                async with UnitOfWork(bus.engine, producer="tasks", relay=relay) as uow:
                    uow.outbox.add(PingedV1(n=1))
                    await uow.commit()
            return web.Response(status=201)

        app = web.Application()
        app.router.add_post("/pings", ping)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            with trace.get_tracer("test.client").start_as_current_span("user clicks") as root:
                trace_id = format(root.get_span_context().trace_id, "032x")
                headers: dict[str, str] = {}
                propagate.inject(headers)  # the caller's traceparent, as a browser SDK sends
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(f"http://127.0.0.1:{port}/pings", headers=headers) as reply,
                ):
                    assert reply.status == 201
            await wait_until(lambda: _applied_one(bus))
        finally:
            await runner.cleanup()
            await consumer.stop()
            await relay.stop()

    finished = spans.get_finished_spans()
    by_name = {span.name: span for span in finished if span.context is not None}
    request = by_name["POST /pings"]
    publish = by_name["tasks.test.pinged publish"]
    process = by_name["tasks.test.pinged process"]
    for span in (request, publish, process):
        assert span.context is not None
        assert format(span.context.trace_id, "032x") == trace_id
    assert publish.parent is not None
    assert request.context is not None
    assert publish.parent.span_id == request.context.span_id
    assert process.parent is not None
    assert publish.context is not None
    assert process.parent.span_id == publish.context.span_id
    assert publish.kind is SpanKind.PRODUCER
    assert process.kind is SpanKind.CONSUMER


async def _applied_one(bus: busapp.Bus) -> bool:
    return (await applied(bus.engine))[0] >= 1
