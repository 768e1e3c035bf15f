"""The SMTP sender: one mail, one connection, with aiosmtplib.

The Message-ID is derived from the mail's id (itself from the event and the recipient), so
a mail sent twice in the one window no queue can close (the server took it, then this
process died before marking it sent) carries the same id both times, for the receiving side
to fold. Refusals the server calls permanent (5xx, except a login refused: that is ours to
fix, and worth retrying once fixed) end the mail; anything else is tried again later.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Literal

import aiosmtplib

from chore_messaging.domain.mail import Mail
from chore_messaging.usecases.mail_ports import DeliveryFailed

TlsMode = Literal["auto", "starttls", "tls", "none"]


def message_of(mail: Mail, sender: str, id_domain: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((mail.to_name, mail.to_email))
    msg["Subject"] = mail.letter.subject
    msg["Date"] = format_datetime(mail.created_at)
    msg["Message-ID"] = f"<{mail.id}@{id_domain}>"
    msg["X-Chore-Mail-Kind"] = mail.kind.value
    msg.set_content(mail.letter.text)
    msg.add_alternative(mail.letter.html, subtype="html")
    return msg


class SmtpSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        tls: TlsMode,
        timeout_s: float,
        sender: str,
        id_domain: str,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.username, self.password = username or None, password or None
        self.tls = tls
        self.sender, self.id_domain = sender, id_domain

    async def send(self, mail: Mail) -> None:
        msg = message_of(mail, self.sender, self.id_domain)
        try:
            await aiosmtplib.send(
                msg,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls == "tls",
                start_tls={"auto": None, "starttls": True}.get(self.tls, False),
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryFailed(f"recipient refused: {codes}", permanent=permanent) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"SMTP login refused: {exc.code}", permanent=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.code}: {exc.message}"
            raise DeliveryFailed(text, permanent=exc.code >= 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}", permanent=False) from exc
