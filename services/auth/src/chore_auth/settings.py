"""Auth's settings: `AUTH_*` environment variables on top of the common ones."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from chore_common.settings import StorageSettings


class AuthSettings(StorageSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", validate_default=True)

    service_name: ClassVar[str] = "auth"

    port: int = Field(8081, ge=0, le=65535)

    access_ttl_s: int = Field(900, ge=30, le=3600, description="access token lifetime")
    refresh_ttl_s: int = Field(30 * 24 * 3600, ge=60, description="refresh token lifetime")
    refresh_reuse_grace_s: float = Field(
        10.0, ge=0, le=120, description="a used refresh token presented again this soon is a retry"
    )
    leeway_s: float = Field(5.0, ge=0, le=60, description="clock skew allowed on exp/nbf/iat")

    # OWASP ASVS / Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
    argon2_memory_kib: int = Field(19 * 1024, ge=8)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    hash_threads: int = Field(0, ge=0, le=64, description="0 means every CPU but one")

    # The client's address is chore_common.http.client_address's (AUTH_TRUSTED_PROXIES).
    login_account_max_failures: int = Field(
        5,
        ge=1,
        description="failures one address may make on one account; as many from any"
        " addresses put the account under attack (docs/auth.md)",
    )
    login_ip_max_failures: int = Field(
        50, ge=1, description="failures one address may make over every account"
    )
    login_window_s: int = Field(900, ge=1, description="failures counted, and lock, this long")

    # Keys from secret files (production) or, when unset, generated into the database (dev).
    signing_key_file: Path | None = Field(None, description="PEM Ed25519 key that signs")
    next_signing_key_file: Path | None = Field(None, description="published, not yet signing")
    previous_signing_key_file: Path | None = Field(None, description="published, no longer signs")
    key_publish_delay_s: float = Field(
        600.0, ge=0, description="a rotated-in key is in the JWKS this long before it signs"
    )
    keys_reload_s: float = Field(30.0, gt=0, description="how often replicas reread the keys")
    jwks_max_age_s: int = Field(300, ge=0, description="Cache-Control max-age of the JWKS")

    public_url: str = Field(
        "http://127.0.0.1:8080", description="the platform's public URL: mailed links start so"
    )
    forgot_answer_s: float = Field(
        0.1, ge=0, le=5, description="forgot-password answers this long after the request"
    )
    reset_links_per_window: int = Field(
        5, ge=1, description="reset links one account is mailed per login window at most"
    )
    password_reset_ttl_s: float = Field(1800.0, gt=0, description="a reset link works this long")
    verify_email_ttl_s: float = Field(
        48 * 3600.0, gt=0, description="a verification link works this long"
    )
    require_verified_email: bool = Field(
        True,
        description="off: every token says `ev: true` (make run's demo users need not verify)",
    )
    audit_purge_every_s: float = Field(
        3600.0, gt=0, description="how often entries older than a year are purged"
    )
