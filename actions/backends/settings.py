"""Where each retailer system is and how patiently to call it, from the environment (or `.env`).

`BackendSettings` is what the action server reads for its backends, once per process; `SystemSettings` is the
part one client needs (its base URL and key, and the `BACKEND_*` tuning every system shares).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import AnyHttpUrl, Field

from foundation.settings import ProcessSettings

SYSTEMS = ("crm", "orders", "payments", "helpdesk")
DEMOSHOP_URL = "http://127.0.0.1:8081"
DEMOSHOP_KEY = "demoshop-dev-key"


class BackendSettings(ProcessSettings):
    """The action server's backend variables: `<SYSTEM>_BASE_URL` and `<SYSTEM>_API_KEY` per system (unset,
    the demo shop's `DEMOSHOP_URL` and `DEMOSHOP_API_KEY`), and the `BACKEND_*` tuning shared by all."""

    demoshop_url: AnyHttpUrl = Field(DEMOSHOP_URL, env="DEMOSHOP_URL")
    demoshop_api_key: str = Field(DEMOSHOP_KEY, env="DEMOSHOP_API_KEY")
    crm_base_url: AnyHttpUrl | None = Field(None, env="CRM_BASE_URL")
    crm_api_key: str | None = Field(None, env="CRM_API_KEY")
    orders_base_url: AnyHttpUrl | None = Field(None, env="ORDERS_BASE_URL")
    orders_api_key: str | None = Field(None, env="ORDERS_API_KEY")
    payments_base_url: AnyHttpUrl | None = Field(None, env="PAYMENTS_BASE_URL")
    payments_api_key: str | None = Field(None, env="PAYMENTS_API_KEY")
    helpdesk_base_url: AnyHttpUrl | None = Field(None, env="HELPDESK_BASE_URL")
    helpdesk_api_key: str | None = Field(None, env="HELPDESK_API_KEY")
    connect_timeout: float = Field(2.0, ge=0, env="BACKEND_CONNECT_TIMEOUT")
    read_timeout: float = Field(5.0, ge=0, env="BACKEND_READ_TIMEOUT")
    max_attempts: int = Field(3, ge=1, env="BACKEND_MAX_ATTEMPTS")
    backoff_initial: float = Field(0.2, ge=0, env="BACKEND_BACKOFF_INITIAL")
    backoff_max: float = Field(2.0, ge=0, env="BACKEND_BACKOFF_MAX")
    breaker_fail_max: int = Field(5, ge=1, env="BACKEND_BREAKER_FAIL_MAX")
    breaker_reset_seconds: float = Field(5.0, ge=0, env="BACKEND_BREAKER_RESET_SECONDS")

    def system(self, system: str) -> SystemSettings:
        """The settings of one system's client."""
        if system not in SYSTEMS:
            raise ValueError(f"unknown backend system {system!r}; expected one of {SYSTEMS}")
        return SystemSettings(
            system=system,
            base_url=str(getattr(self, f"{system}_base_url") or self.demoshop_url).rstrip("/"),
            api_key=getattr(self, f"{system}_api_key") or self.demoshop_api_key,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_attempts=self.max_attempts,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
            breaker_fail_max=self.breaker_fail_max,
            breaker_reset_seconds=self.breaker_reset_seconds,
        )


@dataclass(frozen=True)
class SystemSettings:
    """The connection settings of one system (CRM, orders, payments or helpdesk)."""

    system: str
    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    breaker_fail_max: int = 5
    breaker_reset_seconds: float = 5.0

    @classmethod
    def from_env(cls, system: str, environ: Mapping[str, str] | None = None) -> SystemSettings:
        """One system's settings: from the process's BackendSettings (read once), or from `environ` when given.

        Unset, every system points at the local demo shop with its development key.
        """
        if system not in SYSTEMS:
            raise ValueError(f"unknown backend system {system!r}; expected one of {SYSTEMS}")
        settings = BackendSettings.current() if environ is None else BackendSettings.from_env(environ)
        return settings.system(system)
