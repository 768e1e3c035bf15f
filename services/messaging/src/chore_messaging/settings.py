"""Messaging's settings: `MESSAGING_*` environment variables on top of the common ones."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
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
