"""Where each retailer system lives and how patiently to call it, from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

SYSTEMS = ("crm", "orders", "payments", "helpdesk")
DEMOSHOP_URL = "http://127.0.0.1:8081"
DEMOSHOP_KEY = "demoshop-dev-key"


@dataclass(frozen=True)
class SystemSettings:
    """The connection settings of one system (CRM, orders, payments or helpdesk)."""

    system: str
    base_url: str
    api_key: str
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    max_attempts: int = 3
    backoff_initial: float = 0.2
    backoff_max: float = 2.0
    breaker_fail_max: int = 5
    breaker_reset_seconds: float = 30.0

    @classmethod
    def from_env(cls, system: str, environ: Optional[Mapping[str, str]] = None) -> "SystemSettings":
        """`<SYSTEM>_BASE_URL` and `<SYSTEM>_API_KEY` per system; `BACKEND_*` tuning shared by all.

        Unset, every system points at the local demo shop with its development key.
        """
        if system not in SYSTEMS:
            raise ValueError(f"unknown backend system {system!r}; expected one of {SYSTEMS}")
        env = os.environ if environ is None else environ
        prefix = system.upper()
        return cls(
            system=system,
            base_url=(env.get(f"{prefix}_BASE_URL") or env.get("DEMOSHOP_URL") or DEMOSHOP_URL).rstrip("/"),
            api_key=env.get(f"{prefix}_API_KEY") or env.get("DEMOSHOP_API_KEY") or DEMOSHOP_KEY,
            connect_timeout=_number(env, "BACKEND_CONNECT_TIMEOUT", 2.0),
            read_timeout=_number(env, "BACKEND_READ_TIMEOUT", 5.0),
            max_attempts=int(_number(env, "BACKEND_MAX_ATTEMPTS", 3)),
            backoff_initial=_number(env, "BACKEND_BACKOFF_INITIAL", 0.2),
            backoff_max=_number(env, "BACKEND_BACKOFF_MAX", 2.0),
            breaker_fail_max=int(_number(env, "BACKEND_BREAKER_FAIL_MAX", 5)),
            breaker_reset_seconds=_number(env, "BACKEND_BREAKER_RESET_SECONDS", 30.0),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value
