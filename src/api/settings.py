"""Settings from the environment (the contract's "Running the service")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import binascii
from base64 import b64decode

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifecycle.calendar import EARLIEST_DAY, LATEST_DAY, instant_supported

SCOPES = ("views", "commands", "audit", "ops")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ApiToken:
    name: str
    secret: str
    scopes: frozenset[str]


class Settings(BaseSettings):
    # Errors name the setting, never echo its value: several settings are secrets.
    model_config = SettingsConfigDict(
        env_prefix="LIFECYCLE_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = "sqlite:///./lifecycle.db"
    api_tokens: str = Field(default="", repr=False)
    clock: str = "system"
    clock_start: datetime | None = None
    account_services_email: str = "account-services@example.com"
    link_secret: str | None = Field(default=None, repr=False)
    address_ranges_file: str | None = None
    scheduler_interval_seconds: float = 2.0
    projection_poll_seconds: float = 0.2
    read_wait_seconds: float = 5.0
    event_cipher_key: SecretStr | None = Field(default=None, repr=False)
    """Base64 of 16, 24 or 32 random bytes: every stored event is encrypted with it, and
    the per-organisation data keys are wrapped with it. A secret: never shown."""
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    workers: int = Field(default=1, ge=1, le=64)
    """HTTP worker processes of ``lifecycle serve``. With more than one, the projections
    and the time-driven work run in the serving command's own process instead, beside
    the workers (``lifecycle serve --workers``)."""
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    """A connection's request head (request line and headers) must arrive within this,
    counted from the connection's start or from the first byte of a later request."""
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    """A request's body must arrive within this, counted from the end of its head."""
    keep_alive_seconds: int = Field(default=5, ge=1)
    """An idle connection is closed this long after its last answer."""
    max_connections: int = Field(default=1000, ge=1)
    """Open connections per HTTP worker process; beyond it a request is answered 503
    ``service-busy``. Lowered at start to fit the process's file limit."""
    request_deadline_seconds: float = Field(default=8.0, gt=0)
    """A request stops waiting for the database this long after it reached the
    service, and answers 503 ``store-unavailable``."""

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"LIFECYCLE_LOG_LEVEL is one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("event_cipher_key")
    @classmethod
    def _cipher_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        try:
            size = len(b64decode(value.get_secret_value(), validate=True))
        except (binascii.Error, ValueError):
            size = -1
        if size not in (16, 24, 32):
            raise ValueError(
                "LIFECYCLE_EVENT_CIPHER_KEY is the base64 of 16, 24 or 32 random bytes, e.g. "
                "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
            )
        return value

    def cipher_key(self) -> str | None:
        """The master key's base64 text, or ``None`` when events are not encrypted."""
        return None if self.event_cipher_key is None else self.event_cipher_key.get_secret_value()

    @field_validator("clock")
    @classmethod
    def _clock_kind(cls, value: str) -> str:
        if value not in ("system", "manual"):
            raise ValueError("LIFECYCLE_CLOCK is 'system' or 'manual'")
        return value

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("LIFECYCLE_CLOCK_START is an RFC 3339 instant with its offset")
        if value is not None and not instant_supported(value):
            raise ValueError(
                f"LIFECYCLE_CLOCK_START is supported from {EARLIEST_DAY} to {LATEST_DAY} (UTC)"
            )
        return value

    def tokens(self) -> list[ApiToken]:
        """``name:secret:scope+scope`` entries separated by ``;``."""
        tokens = []
        for entry in filter(None, (e.strip() for e in self.api_tokens.split(";"))):
            parts = entry.split(":")
            if len(parts) != 3 or not parts[0] or not parts[1]:
                raise ValueError("each LIFECYCLE_API_TOKENS entry is name:secret:scope+scope")
            scopes = frozenset(s for s in parts[2].split("+") if s)
            unknown = scopes - set(SCOPES)
            if unknown:
                raise ValueError(f"unknown scopes in LIFECYCLE_API_TOKENS: {sorted(unknown)}")
            tokens.append(ApiToken(parts[0], parts[1], scopes))
        return tokens
