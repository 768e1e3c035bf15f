"""Log lines of real requests: JSON, one access line each, and no secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chore_common.telemetry.logs import configure_logging, flush_logs, request_id_var, trace_ids
from chore_common.testing.demo_app import DemoSettings, create_app

TOKEN = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def stdout() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("demo", stream=stream)
    yield stream
    configure_logging("demo")  # back to sys.stdout for the next test


@pytest.fixture
async def client(stdout: io.StringIO) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(create_app(DemoSettings()))) as client:
        yield client


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def access_lines(stream: io.StringIO, count: int = 1) -> list[dict[str, Any]]:
    """Access lines are written in batches, at most ACCESS_FLUSH_S after their request."""
    deadline = asyncio.get_running_loop().time() + 1.0
    while True:
        access = [line for line in lines(stream) if line["event"] == "http.request"]
        if len(access) >= count or asyncio.get_running_loop().time() > deadline:
            return access
        await asyncio.sleep(0.01)


async def test_every_line_is_json_and_each_request_gets_one_access_line(
    client: TestClient[web.Request, web.Application], stdout: io.StringIO
) -> None:
    await client.get("/items/abc", headers={"X-Request-ID": "req-1"})
    access = await access_lines(stdout)
    assert len(access) == 1
    line = access[0]
    assert line["service"] == "demo"
    assert line["level"] == "info"
    assert line["request_id"] == "req-1"
    assert line["method"] == "GET"
    assert line["route"] == "/items/{id}"
    assert line["status"] == 404
    assert line["remote"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float)
    assert len(line["trace_id"]) == 32
    assert len(line["span_id"]) == 16
    assert line["ts"].endswith("Z")


async def test_authorization_cookie_password_and_query_token_never_reach_the_log(
    client: TestClient[web.Request, web.Application], stdout: io.StringIO
) -> None:
    await client.post(
        f"/items?token={TOKEN}",
        json={"name": "broom", "password": PASSWORD},
        headers={"Authorization": f"Bearer {TOKEN}", "Cookie": f"session={TOKEN}"},
    )
    await client.post(
        "/items",
        json={"name": "", "password": PASSWORD},  # 422: the error path must not leak it either
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    await client.get(f"/boom?password={PASSWORD}", headers={"Authorization": f"Bearer {TOKEN}"})
    text = stdout.getvalue()
    assert len(lines(stdout)) >= 3
    assert TOKEN not in text
    assert "c2VjcmV0" not in text
    assert PASSWORD not in text
    assert "Bearer" not in text


async def test_a_500_logs_the_traceback_with_the_request_id(
    client: TestClient[web.Request, web.Application], stdout: io.StringIO
) -> None:
    await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    errors = [line for line in lines(stdout) if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-1"
    assert "Traceback" in errors[0]["exc"]
    assert "RuntimeError: demo failure" in errors[0]["exc"]


async def test_a_w3c_traceparent_is_honoured_in_log_lines(
    client: TestClient[web.Request, web.Application], stdout: io.StringIO
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    # Raw bytes: once tracing is configured in this process, the instrumented aiohttp client
    # would replace our traceparent with its own span's.
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"traceparent: 00-{trace_id}-00f067aa0ba902b7-01\r\n\r\n".encode()
    )
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
    writer.close()
    access = await access_lines(stdout)
    assert access[-1]["trace_id"] == trace_id
    assert access[-1]["span_id"] != "00f067aa0ba902b7"


async def test_extra_fields_are_redacted_by_key_however_deep(stdout: io.StringIO) -> None:
    logging.getLogger("test").info(
        "user.login",
        extra={
            "user_id": "u1",
            "headers": {"Authorization": "Bearer x", "Accept": "json"},
            "form": [{"password": "p"}, {"api_key": "k"}],
            "refresh_token": "r",
        },
    )
    line = lines(stdout)[-1]
    assert line["user_id"] == "u1"
    assert line["headers"] == {"Authorization": "[redacted]", "Accept": "json"}
    assert line["form"] == [{"password": "[redacted]"}, {"api_key": "[redacted]"}]
    assert line["refresh_token"] == "[redacted]"


async def test_an_access_line_is_written_before_any_later_line(
    client: TestClient[web.Request, web.Application], stdout: io.StringIO
) -> None:
    # Access lines wait for their batch; any other line must not overtake them.
    await client.get("/items/abc", headers={"X-Request-ID": "first"})
    logging.getLogger("test").warning("after.the.request")
    events = [(line["event"], line["request_id"]) for line in lines(stdout)]
    assert events.index(("http.request", "first")) < events.index(("after.the.request", None))


async def test_with_another_handler_in_charge_the_access_line_is_a_record_under_its_ids(
    client: TestClient[web.Request, web.Application],
) -> None:
    seen: list[tuple[logging.LogRecord, str | None, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record, request_id_var.get(), trace_ids()))

    access = logging.getLogger("chore.access")
    keep = Keep()
    access.addHandler(keep)
    try:
        await client.get("/items/abc", headers={"X-Request-ID": "kept-1"})
        flush_logs()
    finally:
        access.removeHandler(keep)
    (record, rid, ids), *_ = [s for s in seen if s[0].getMessage() == "http.request"]
    assert (record.method, record.route, record.status) == ("GET", "/items/{id}", 404)
    assert record.path == "/items/abc"
    assert rid == "kept-1"
    assert ids is not None
    assert len(ids[0]) == 32
