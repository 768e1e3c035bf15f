"""Tasks' settings: `TASKS_*` environment variables on top of the common ones."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from chore_common.settings import StorageSettings
from chore_tasks.domain.jobs import RetryPolicy
from chore_tasks.domain.money import CURRENCIES, DEFAULT_CURRENCY


class TasksSettings(StorageSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_", extra="ignore", validate_default=True)

    service_name: ClassVar[str] = "tasks"

    port: int = Field(8082, ge=0, le=65535)

    scheduler_enabled: bool = Field(True, description="run due jobs in this process")
    consumer_enabled: bool = Field(
        True, description="apply auth's events about people (names, bans) in this process"
    )
    scheduler_poll_s: float = Field(1.0, gt=0, le=60, description="how often to look for due jobs")
    scheduler_batch: int = Field(50, ge=1, le=1000, description="jobs claimed per poll")
    scheduler_concurrency: int = Field(8, ge=1, le=256, description="jobs run at once")
    job_max_attempts: int = Field(5, ge=1, le=100)
    job_backoff_base_s: float = Field(5.0, gt=0, description="wait after the first failed try")
    job_backoff_factor: float = Field(2.0, ge=1)
    job_backoff_cap_s: float = Field(900.0, gt=0)
    job_lease_s: float = Field(300.0, gt=0, description="a running job is reclaimed after this")

    auto_confirm_h: float = Field(
        72.0, gt=0, le=24 * 365, description="hours before a done task completes by itself"
    )
    review_blind_days: float = Field(
        14.0,
        gt=0,
        le=365,
        description="reviews stay hidden this long after completion unless both sides write;"
        " also the time allowed for writing one (a float, so tests can use seconds)",
    )

    require_verified_email: bool = Field(
        True, description="posting tasks and offers needs the token's `ev` claim"
    )
    cache_size: int = Field(10_000, ge=0, description="tasks kept in the read cache (0: off)")
    default_currency: str = Field(
        DEFAULT_CURRENCY, description="ISO 4217 code of tasks posted without a currency"
    )
    group_commit: bool = Field(
        True, description="tasks posted at the same time share one transaction"
    )

    @field_validator("default_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @property
    def auto_confirm_after(self) -> timedelta:
        return timedelta(hours=self.auto_confirm_h)

    @property
    def review_blind_period(self) -> timedelta:
        return timedelta(days=self.review_blind_days)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.job_max_attempts,
            base=timedelta(seconds=self.job_backoff_base_s),
            factor=self.job_backoff_factor,
            cap=timedelta(seconds=self.job_backoff_cap_s),
            lease=timedelta(seconds=self.job_lease_s),
        )
