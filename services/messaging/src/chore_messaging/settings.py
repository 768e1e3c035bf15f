"""Messaging's settings: `MESSAGING_*` environment variables on top of the common ones."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from chore_common.settings import StorageSettings


class MessagingSettings(StorageSettings):
    model_config = SettingsConfigDict(
        env_prefix="MESSAGING_", extra="ignore", validate_default=True
    )

    service_name: ClassVar[str] = "messaging"

    port: int = Field(8083, ge=0, le=65535)

    consumer_enabled: bool = Field(True, description="apply tasks events in this process")

    ws_heartbeat_s: float = Field(20.0, gt=0, description="WebSocket ping interval")
    ws_idle_timeout_s: float = Field(
        300.0, gt=0, description="close a socket that sent no frame for this long"
    )
    ws_send_queue: int = Field(
        1024, ge=8, le=100_000, description="frames queued per socket before it is closed 1013"
    )
    ws_rate_per_s: float = Field(20.0, gt=0, description="frames a client may send per second")
    ws_burst: float = Field(40.0, ge=1, description="frames a client may send at once")
    ws_flood_strikes: float = Field(
        50.0, ge=1, description="frames refused over the rate before the socket is closed 1008"
    )
    ws_stall_s: float = Field(
        10.0, gt=0, description="a replay waiting this long on a socket that reads nothing: 1013"
    )
    ws_close_timeout_s: float = Field(2.0, gt=0, description="wait for the client's close reply")
    ws_max_per_user: int = Field(
        10,
        ge=1,
        le=100_000,
        description="WebSockets one user may hold open on this process; one more is closed 4429",
    )
    ws_max_sockets: int = Field(
        12_000,
        ge=1,
        le=1_000_000,
        description="WebSockets this process holds at most; one more is closed 1013, retry hint",
    )
    ws_retry_after_s: int = Field(
        5,
        ge=1,
        le=3600,
        description="the retry hint (seconds) a socket over the cap is closed with",
    )
    replay_page: int = Field(500, ge=1, le=500, description="messages read per replay query")
    fanout_gap_s: float = Field(
        0.25, gt=0, description="wait for a missing seq on NATS before reading the database"
    )
    typing_every_s: float = Field(
        3.0, gt=0, description="a sender's typing reaches the other participant at most this often"
    )
    presence_timeout_s: float = Field(
        30.0,
        gt=0,
        description="a replica silent this long (e.g. killed) has its users shown offline",
    )

    # -- mail (the notifier: docs/messaging.md "Mail", docs/adr/0008-mail-notifier.md) -----
    mail_enabled: bool = Field(
        True, description="queue and deliver mail (with consumer_enabled); false: no mail at all"
    )
    smtp_host: str = Field("127.0.0.1", description="the SMTP server mail is handed to")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_username: str = Field("", description="SMTP login; empty: none")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password (a Secret)")
    smtp_tls: Literal["auto", "starttls", "tls", "none"] = Field(
        "auto", description="auto: STARTTLS when the server offers it; tls: implicit TLS"
    )
    smtp_timeout_s: float = Field(10.0, gt=0, description="per SMTP conversation")
    mail_from: str = Field("Chore <no-reply@chore.invalid>", description="the From header")
    mail_id_domain: str = Field("chore.invalid", description="right of the @ in Message-IDs")
    mail_app_url: str = Field(
        "http://127.0.0.1:8080", description="where links in mails point (the front door)"
    )
    mail_language: str = Field("en", pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    mail_templates_dir: Path | None = Field(
        None, description="a folder of <language>/ template folders; empty: the built-in ones"
    )
    mail_retry_s: list[float] = Field(
        default_factory=lambda: [2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0],
        min_length=1,
        description="JSON list: waits between delivery attempts, the last one repeating",
    )
    mail_give_up_h: float = Field(
        72.0, gt=0, description="a mail not delivered after this long is marked failed"
    )
    mail_poll_s: float = Field(1.0, gt=0, description="how often queued mail is looked for")
    mail_batch: int = Field(20, ge=1, le=1000, description="mails leased per delivery round")
    mail_digest_every_s: float = Field(
        3600.0, gt=0, description="how often the unread digest looks for users away"
    )
    mail_offline_h: float = Field(
        24.0, gt=0, description="a user away this long gets the daily digest of unread messages"
    )
    mail_presence_flush_s: float = Field(
        60.0, gt=0, description="how often this replica records who had a socket open"
    )
