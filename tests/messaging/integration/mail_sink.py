"""A real SMTP server for the mail tests: aiosmtpd in its own thread, keeping what it took.

`stop()` and `start()` take it down and bring it back on the same port, as an SMTP server
going away for a while would.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from chore_common.testing.nats import free_port


@dataclass
class Sink:
    port: int = field(default_factory=free_port)
    received: list[EmailMessage] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # addresses answered 550 at RCPT
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self.received.append(msg)
        return "250 OK"

    def start(self) -> Sink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.received)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails() if address in str(m["To"])]

    async def wait_for(
        self, count: int, *, address: str | None = None, wait_s: float = 30.0
    ) -> list[EmailMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            got = self.to(address) if address else self.mails()
            if len(got) >= count or loop.time() > deadline:
                return got
            await asyncio.sleep(0.05)


def body(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())  # type: ignore[attr-defined]
