"""/dev/mail: the mail a real SMTP sink (aiosmtpd's Mailbox, as `make run` starts it) stored,
read through the gateway; and no such page unless the setting names the maildir."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from chore_common.testing.nats import free_port

from .conftest import StartGateway, StartUpstream


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    folder, port = tmp_path / "mail", free_port()
    controller = Controller(Mailbox(folder), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, folder
    controller.stop()


async def mail(port: int, to: str, subject: str, text: str, html: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Chore <no-reply@chore.invalid>", to, subject
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, start_tls=False)


async def test_dev_mail_lists_and_shows_what_the_sink_stored(
    start_upstream: StartUpstream, start_gateway: StartGateway, sink: tuple[int, Path]
) -> None:
    port, folder = sink
    tasks = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [tasks]}, dev_mail_dir=folder)
    empty = await gw.get("/dev/mail")
    assert empty.status == 200
    assert "No mail yet." in await empty.text()

    link = "http://127.0.0.1:8080/auth/reset?token=abc&x=1"
    await mail(port, "Ann <ann@example.com>", "Reset your Chore password", f"Go: {link}\n",
               f'<p><a href="{link}">reset</a><script>alert(1)</script></p>')  # fmt: skip
    await mail(port, "bob@example.com", "You are <b>hired</b>", "Yes\n", "<p>Yes</p>")

    page = await (await gw.get("/dev/mail")).text()
    assert "Reset your Chore password" in page
    assert "You are &lt;b&gt;hired&lt;/b&gt;" in page  # a subject is text, never markup
    listed = (await (await gw.get("/dev/mail.json")).json())["items"]
    assert sorted(m["to"] for m in listed) == ["Ann <ann@example.com>", "bob@example.com"]
    reset = next(m for m in listed if m["subject"] == "Reset your Chore password")
    assert link in reset["text"]
    assert f'href="{link}"' in reset["html"]

    one = await gw.get(f"/dev/mail/{reset['id']}")
    assert one.status == 200
    shown = await one.text()
    assert "Go: http://127.0.0.1:8080/auth/reset?token=abc&amp;x=1" in shown
    assert '<iframe sandbox="" srcdoc="' in shown
    assert "<script>" not in shown  # the HTML part only ever inside the sandbox, quoted
    for key in ("nope", "..%2F..%2Fetc%2Fpasswd"):
        missing = await gw.get(f"/dev/mail/{key}")
        assert missing.status == 404
        assert missing.content_type == "application/problem+json"


async def test_no_dev_mail_page_unless_it_is_set(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    gw = await start_gateway({"tasks": [await start_upstream("tasks")]})
    for path in ("/dev/mail", "/dev/mail.json"):
        assert (await gw.get(path)).status == 404
