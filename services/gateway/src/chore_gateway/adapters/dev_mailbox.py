"""The local SMTP sink's maildir, read for the `/dev/mail` page (`make run` only).

aiosmtpd's Mailbox handler stores each mail as a file in a maildir; reading is blocking
file I/O, so it runs in a thread. Keys are the maildir's own: a key that is not one of its
files is simply not found, so no path a client writes reaches anything else.
"""

from __future__ import annotations

import asyncio
import email.policy
import mailbox
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

MAX_LISTED = 200


def _text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    return "" if part is None else str(part.get_content())


def _summary(key: str, msg: EmailMessage) -> dict[str, str]:
    return {
        "id": key,
        "date": str(msg.get("Date", "")),
        "from": str(msg.get("From", "")),
        "to": str(msg.get("To", "")),
        "subject": str(msg.get("Subject", "")),
        "message_id": str(msg.get("Message-ID", "")),
    }


def _sort_key(item: dict[str, str]) -> float:
    try:
        return parsedate_to_datetime(item["date"]).timestamp()
    except (TypeError, ValueError):
        return 0.0


class DevMailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _open(self) -> mailbox.Maildir | None:
        if not (self.folder / "new").is_dir() and not (self.folder / "cur").is_dir():
            return None  # nothing sent yet
        return mailbox.Maildir(self.folder, factory=None, create=False)

    def _parse(self, box: mailbox.Maildir, key: str) -> EmailMessage | None:
        try:
            data = box.get_bytes(key)
        except (KeyError, OSError):
            return None
        msg = email.message_from_bytes(data, policy=email.policy.default)
        return msg if isinstance(msg, EmailMessage) else None

    def _listing(self) -> list[dict[str, str]]:
        box = self._open()
        if box is None:
            return []
        items = []
        for key in box.iterkeys():
            msg = self._parse(box, key)
            if msg is not None:
                items.append(_summary(key, msg))
        return sorted(items, key=_sort_key, reverse=True)[:MAX_LISTED]

    def _message(self, key: str) -> dict[str, str] | None:
        box = self._open()
        msg = None if box is None else self._parse(box, key)
        if msg is None:
            return None
        return {**_summary(key, msg), "text": _text(msg, "plain"), "html": _text(msg, "html")}

    async def listing(self) -> list[dict[str, str]]:
        return await asyncio.to_thread(self._listing)

    async def message(self, key: str) -> dict[str, str] | None:
        return await asyncio.to_thread(self._message, key)
