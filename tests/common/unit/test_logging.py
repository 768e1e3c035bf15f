"""Redaction rules and the JSON line shape, without any I/O but a string buffer."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chore_common.logging import REDACTED, JsonFormatter, redact, request_id_var


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
