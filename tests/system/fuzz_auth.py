"""Schemathesis hooks (`SCHEMATHESIS_HOOKS`): each operation is sent with the token of the
role that may call it, so the fuzzer gets past 401/403 into the handlers.

`FUZZ_ACCOUNTS` (JSON, written by test_fuzz.py) holds one signed-in account per role:
`{"client": {"access_token": ..., "refresh_token": ...}, "tasker": ..., "admin": ...,
"spare": ...}`. Operations that end a session (logout, deleting a session) use `spare`, so
the fuzzer cannot sign the others out halfway. Tokens are rotated with their refresh token
before the access token expires (a long `make fuzz`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import requests
import schemathesis

REFRESH_EVERY_S = 600  # access tokens live 900 s

# (method, path) -> role; anything else is the client's.
ROLES = {
    ("POST", "/auth/logout"): "spare",
    ("DELETE", "/auth/sessions/{session_id}"): "spare",
    # Each needs the password, which the fuzzer cannot know; the spare all the same.
    ("DELETE", "/auth/me"): "spare",
    ("POST", "/auth/password"): "spare",
    ("POST", "/auth/me/email"): "spare",
    ("POST", "/tasks/{task_id}/offers"): "tasker",
    ("POST", "/tasks/{task_id}/start"): "tasker",
    ("POST", "/tasks/{task_id}/complete"): "tasker",
}


def role_of(method: str, path: str) -> str:
    if path.startswith(("/tasks/admin/", "/auth/admin/")):
        return "admin"
    return ROLES.get((method.upper(), path), "client")


class Accounts:
    def __init__(self) -> None:
        self.gateway = os.environ["FUZZ_GATEWAY"]
        self.tokens: dict[str, dict[str, Any]] = json.loads(os.environ["FUZZ_ACCOUNTS"])
        self.renewed = time.monotonic()
        self.lock = threading.Lock()

    def access_token(self, role: str) -> str:
        with self.lock:
            if time.monotonic() - self.renewed > REFRESH_EVERY_S:
                self.renewed = time.monotonic()
                for tokens in self.tokens.values():
                    self._rotate(tokens)
            return str(self.tokens[role]["access_token"])

    def _rotate(self, tokens: dict[str, Any]) -> None:
        response = requests.post(
            f"{self.gateway}/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            timeout=10,
        )
        if response.status_code == 200:  # else keep the old one: the spare may be signed out
            tokens.update(response.json())


ACCOUNTS = Accounts()


@schemathesis.auth(refresh_interval=None)
class ByRole:
    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return ""  # chosen per operation in `set`

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        role = role_of(case.operation.method, case.operation.path)
        case.headers = {**(case.headers or {}), "Authorization": "Bearer "
                        + ACCOUNTS.access_token(role)}  # fmt: skip
