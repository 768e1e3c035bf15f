"""Settings on pydantic-settings, one env prefix per service.

`TASKS_PORT=8082` sets `TasksSettings.port`. `load_settings` turns a validation failure into a
one-line error naming the environment variable, so a bad deploy fails at start, loudly.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import ClassVar, Self, TypeVar

from pydantic import Field, IPvAnyNetwork, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="ServiceSettings")

LOOPBACK: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("127.0.0.0/8"),
    IPv6Network("::1/128"),
)


class SettingsError(SystemExit):
    """Raised (and exits the process) when the environment holds a bad setting."""


class ServiceSettings(BaseSettings):
    """What every service needs. Subclasses set `service_name` and an env prefix."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    service_name: ClassVar[str] = "service"

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64, description="processes sharing the port")
    listen_backlog: int = Field(
        1024,
        ge=16,
        le=65535,
        description="connections the kernel queues until this process accepts them; aiohttp's"
        " 128 overflows in a reconnect storm and each dropped SYN costs its client 1 s or more",
    )
    database_url: str = Field("", description="SQLAlchemy URL; empty means ./var/<service>.db")
    db_pool_size: int = Field(
        20, ge=1, le=200, description="PostgreSQL connections per process, kept open once made"
    )
    db_pool_timeout_s: float = Field(
        10.0, gt=0, le=120, description="how long a request waits for a free connection (then 503)"
    )
    nats_url: str = "nats://127.0.0.1:4222"
    stream_replicas: int = Field(1, ge=1, le=5)
    stream_max_age_s: int = Field(
        7 * 24 * 3600, ge=60, description="how long the service's own stream keeps events"
    )
    stream_max_bytes: int = Field(
        -1,
        ge=-1,
        description="size cap of the service's own stream (oldest events dropped at it); -1 none",
    )
    stream_metrics_interval_s: float = Field(
        15.0, gt=0, le=3600, description="how often the jetstream_stream_* gauges are refreshed"
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    shutdown_grace_s: float = Field(10.0, ge=0, le=300)
    shutdown_drain_s: float = Field(
        0.5,
        ge=0,
        le=60,
        description="after SIGTERM, keep answering (with Connection: close) before closing",
    )
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    access_log_probes: bool = Field(
        False,
        description="access-log every /healthz, /readyz and /metrics request too"
        " (otherwise only those answered 5xx: probes come every second or so)",
    )
    var_dir: Path = Path("var")
    jwks_url: str = Field(
        "http://127.0.0.1:8081/auth/.well-known/jwks.json",
        description="auth's JWKS; several comma-separated (one per auth replica) fail over",
    )
    jwt_issuer: str = "chore-auth"
    jwt_audience: str = "chore-platform"
    # `make run` puts every process on loopback; a deployment lists the networks its proxy
    # (the gateway, for a service) connects from. See chore_common.http.client_address.
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=lambda: list(LOOPBACK),
        description="JSON list of CIDRs whose requests may name the client in X-Real-IP",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_json_list(cls, value: object) -> object:
        # The environment source parses JSON itself; a plain string handed to the
        # constructor (a manifest's value, a test) gets the same treatment.
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _default_database(self) -> Self:
        if not self.database_url:
            path = self.var_dir / f"{self.service_name}.db"
            self.database_url = f"sqlite+aiosqlite:///{path}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class StorageSettings(ServiceSettings):
    """A service that owns a database (and migrates it): see `chore_common.assembly`."""

    migrate_on_start: bool | None = Field(
        None, description="apply migrations at start; unset means only on SQLite (local dev)"
    )

    @property
    def migrates_on_start(self) -> bool:
        return self.migrate_on_start or (self.migrate_on_start is None and self.is_sqlite)


def env_name(cls: type[ServiceSettings], field: str) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def load_settings(cls: type[S], **overrides: object) -> S:
    """Build settings from the environment (and overrides), or exit with one clear line."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        bad = env_name(cls, field) if field in cls.model_fields else field
        raise SettingsError(
            f"{cls.service_name}: invalid setting {bad}: {first['msg']}"
            f" (got {first.get('input')!r})"[:300]
        ) from None
