"""Gateway settings: `GATEWAY_*` environment variables on top of the common ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from chore_common.settings import ServiceSettings
from chore_gateway.domain.breaker import BreakerPolicy
from chore_gateway.domain.cors import CorsPolicy, canonical_origin
from chore_gateway.domain.ratelimit import RateLimit

ROUTED: tuple[str, ...] = ("auth", "tasks", "messaging")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", validate_default=True)

    service_name: ClassVar[str] = "gateway"

    port: int = Field(8080, ge=0, le=65535)
    metrics_port: int = Field(
        9180, ge=0, le=65535, description="/metrics listens here only (0: any free port)"
    )

    upstreams: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "auth": ["http://127.0.0.1:8081"],
            "tasks": ["http://127.0.0.1:8082"],
            "messaging": ["http://127.0.0.1:8083"],
        },
        description='JSON {"auth": [base URLs], "tasks": [...], "messaging": [...]}',
    )

    rate_limit_rps: float = Field(100.0, ge=0, description="per client IP, on average; 0: off")
    rate_limit_burst: int = Field(200, ge=1, description="requests at once after a quiet spell")
    rate_limit_max_clients: int = Field(100_000, ge=100, description="buckets kept in memory")
    # The kit's setting, without its default: the gateway shares its limit through NATS only
    # when told where it is (docs/adr/0007-gateway-shared-rate-limit.md).
    nats_url: str = Field(
        "", description="NATS to share the per-IP limit between gateways; empty: per process"
    )
    rate_limit_sync_s: float = Field(
        0.05, gt=0, le=5, description="how often each gateway sends what it admitted (NATS)"
    )

    cors_origins: list[str] = Field(
        default_factory=list,
        description='JSON list of browser origins allowed to call the API, e.g. ["https://app.example.com"];'
        " empty: no CORS",
    )
    cors_allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        description="JSON list: what a preflight may ask for",
    )
    cors_allow_headers: list[str] = Field(
        default_factory=lambda: [
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "If-Match",
            "If-None-Match",
            "X-Request-ID",
            "traceparent",
            "tracestate",
        ],
        description="JSON list: request headers a preflight may ask for",
    )
    cors_max_age_s: int = Field(
        600, ge=0, le=86_400, description="how long a browser may keep a preflight's answer"
    )
    # The kit's setting (services trust X-Real-IP from these), with the edge's default: the
    # gateway trusts no proxy unless told which networks are in front of it.
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="JSON list of the networks of proxies in front (the ingress), e.g."
        ' ["10.0.0.0/8"]: behind them the client is the right-most X-Forwarded-For hop'
        " outside these networks",
    )
    # Replaced by trusted_proxies: kept only to refuse it loudly rather than ignore it.
    trust_forwarded_for: bool | None = Field(None, description="replaced by TRUSTED_PROXIES")

    client_header_timeout_s: float = Field(
        5.0, gt=0, le=300, description="longest wait for a request head once it has begun (408)"
    )
    client_body_timeout_s: float = Field(
        10.0, gt=0, le=300, description="longest wait for the next bytes of a request body (408)"
    )
    keepalive_timeout_s: float = Field(
        75.0, gt=0, le=3600, description="an idle client connection is closed after this"
    )

    upstream_connect_timeout_s: float = Field(2.0, gt=0, le=60)
    upstream_timeout_s: float = Field(
        30.0, gt=0, le=600, description="longest wait for the upstream's next bytes (504)"
    )
    export_timeout_s: float = Field(
        30.0, gt=0, le=600, description="longest wait for a service's part of GET /me/export"
    )
    upstream_connections: int = Field(
        256, ge=1, le=10_000, description="pooled keep-alive connections, all upstreams"
    )

    breaker_failures: int = Field(5, ge=1, le=1000, description="failures in a row that open it")
    breaker_open_s: float = Field(5.0, gt=0, le=600, description="refuse for this long, then probe")

    health_path: str = Field("/readyz", pattern=r"^/")
    health_interval_s: float = Field(1.0, gt=0, le=300)
    health_timeout_s: float = Field(1.0, gt=0, le=60)

    docs_cache_s: float = Field(10.0, ge=0, le=3600, description="keep fetched OpenAPI docs")

    # `make run` only (tools/stack.py sets it): never in a deployment's configuration.
    dev_mail_dir: Path | None = Field(
        None, description="a maildir (the local SMTP sink's) shown at /dev/mail; unset: no page"
    )

    # SPEC lists introspection for services, and RFC 7662 (4) wants its callers authorized:
    # services reach auth directly, so through the front door it is answered 404.
    internal_paths: list[str] = Field(
        default_factory=lambda: ["/auth/introspect"],
        description="JSON list of exact paths the gateway never forwards (404)",
    )

    @field_validator(
        "upstreams",
        "internal_paths",
        "cors_origins",
        "cors_allow_methods",
        "cors_allow_headers",
        mode="before",
    )
    @classmethod
    def _parse_json(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("trust_forwarded_for")
    @classmethod
    def _refuse_trust_forwarded_for(cls, value: bool | None) -> bool | None:
        if value is not None:
            raise ValueError(
                "GATEWAY_TRUST_FORWARDED_FOR was replaced by GATEWAY_TRUSTED_PROXIES, a JSON"
                ' list of the networks of the proxies in front (e.g. ["10.0.0.0/8"])'
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError('"*" is not an origin: list each origin allowed to call the API')
        return [canonical_origin(origin) for origin in value]

    @model_validator(mode="after")
    def _metrics_port_of_its_own(self) -> Self:
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError("metrics_port must differ from port: /metrics is not public")
        return self

    @field_validator("internal_paths")
    @classmethod
    def _check_internal_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/") or any(c in path for c in "?#{}"):
                raise ValueError(f"{path!r}: an internal path is an exact path such as /a/b")
        return value

    @field_validator("upstreams")
    @classmethod
    def _check_upstreams(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - set(ROUTED)
        if unknown:
            raise ValueError(f"unknown service(s) {sorted(unknown)}; routed: {list(ROUTED)}")
        for name, bases in value.items():
            if not bases:
                raise ValueError(f"{name}: no upstream address")
            for base in bases:
                if not base.startswith(("http://", "https://")):
                    raise ValueError(f"{name}: {base!r} is not an http(s) base URL")
        return value

    @property
    def rate_limit(self) -> RateLimit | None:
        if self.rate_limit_rps <= 0:
            return None
        return RateLimit(rate=self.rate_limit_rps, burst=float(self.rate_limit_burst))

    @property
    def cors(self) -> CorsPolicy | None:
        if not self.cors_origins:
            return None
        return CorsPolicy(
            self.cors_origins,
            methods=self.cors_allow_methods,
            headers=self.cors_allow_headers,
            max_age_s=self.cors_max_age_s,
        )

    @property
    def breaker_policy(self) -> BreakerPolicy:
        return BreakerPolicy(failure_threshold=self.breaker_failures, open_s=self.breaker_open_s)

    ws_max_sockets: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="WebSockets this process proxies at most; one more is closed 1013, retry hint",
    )
    ws_retry_after_s: int = Field(
        5,
        ge=1,
        le=3600,
        description="the retry hint (seconds) a socket over the cap is closed with",
    )
    ws_stall_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="a WebSocket client that takes no data for this long is closed 1013 and cut",
    )
