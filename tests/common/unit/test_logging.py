"""Redaction rules and the JSON line shape, without any I/O but a string buffer."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chore_common.telemetry.access_log import AccessLog, RequestRecord
from chore_common.telemetry.logs import REDACTED, JsonFormatter, redact, request_id_var


@pytest.mark.parametrize(
    "key",
    ["Authorization", "cookie", "Set-Cookie", "password", "new_password", "passwd", "secret",
     "client_secret", "token", "access_token", "api_key", "X-Api-Key"],
)  # fmt: skip
def test_sensitive_keys_are_redacted(key: str) -> None:
    assert redact({key: "value"}) == {key: REDACTED}


def test_redaction_reaches_nested_dicts_and_lists_and_leaves_the_rest() -> None:
    data = {"a": {"b": [{"token": 1, "ok": 2}]}, "email_count": 3}
    assert redact(data) == {"a": {"b": [{"token": REDACTED, "ok": 2}]}, "email_count": 3}


def test_a_record_becomes_one_json_line_with_the_request_id_from_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("tasks"))
    log = logging.getLogger("test.unit.json")
    log.addHandler(handler)
    log.propagate = False
    token = request_id_var.set("rid-7")
    try:
        log.warning("task.expired", extra={"task_id": "t1", "password": "p"})
    finally:
        request_id_var.reset(token)
        log.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["event"] == "task.expired"
    assert line["level"] == "warning"
    assert line["service"] == "tasks"
    assert line["logger"] == "test.unit.json"
    assert line["request_id"] == "rid-7"
    assert line["task_id"] == "t1"
    assert line["password"] == REDACTED


@pytest.mark.parametrize("ids", [None, ("a" * 32, "b" * 16)])
def test_an_access_line_is_json_whatever_the_path_and_route_hold(
    ids: tuple[str, str] | None,
) -> None:
    formatter = JsonFormatter("gate%way")
    path = '/items/"quoted"\\%s%d/ünï\n'
    text = AccessLog().line(
        formatter,
        RequestRecord(
            1_765_000_000.5, "rid-1", ids, "GET", "/items/{id}%s", path, 404, 0.0012345, None
        ),
    )
    assert text.endswith("\n")
    assert text.count("\n") == 1
    line = json.loads(text)
    assert line == {
        "ts": "2025-12-06T05:46:40.500Z",
        "level": "info",
        "service": "gate%way",
        "event": "http.request",
        "logger": "chore.access",
        "request_id": "rid-1",
        **({} if ids is None else {"trace_id": "a" * 32, "span_id": "b" * 16}),
        "method": "GET",
        "route": "/items/{id}%s",
        "path": path,
        "status": 404,
        "duration_ms": 1.234,
        "remote": None,
    }
    assert list(line)[:6] == ["ts", "level", "service", "event", "logger", "request_id"]
