"""A bad environment stops the service at start with one line that names the variable."""

from __future__ import annotations

import pytest

from chore_common.settings import SettingsError, load_settings
from chore_common.testing.demo_app import DemoSettings


def test_a_bad_variable_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PORT", "eighty")
    with pytest.raises(SettingsError) as err:
        load_settings(DemoSettings)
    message = str(err.value)
    assert "DEMO_PORT" in message
    assert "\n" not in message


def test_values_come_from_the_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_WORKERS", "3")
    monkeypatch.setenv("DEMO_MAX_BODY_BYTES", "2048")
    settings = load_settings(DemoSettings)
    assert settings.workers == 3
    assert settings.max_body_bytes == 2048
