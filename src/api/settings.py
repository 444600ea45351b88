"""Settings from the environment (the contract's "Running the service")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SCOPES = ("views", "commands", "audit", "ops")


@dataclass(frozen=True)
class ApiToken:
    name: str
    secret: str
    scopes: frozenset[str]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIFECYCLE_", extra="ignore")

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
