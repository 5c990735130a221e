"""Settings of the demo shop, read once from the environment (twelve-factor)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_API_KEY = "demoshop-dev-key"
DEFAULT_DB_PATH = Path("var") / "demoshop.sqlite"


@dataclass(frozen=True)
class Settings:
    """Everything the demo shop reads from the environment; see `.env.example`."""

    host: str
    port: int
    database_url: str
    api_key: str
    threads: int
    fault_delay_ms: int
    seed: int

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        url = env.get("DEMOSHOP_DATABASE_URL") or f"sqlite:///{DEFAULT_DB_PATH}"
        return cls(
            host=env.get("DEMOSHOP_HOST", "127.0.0.1"),
            port=_int(env, "DEMOSHOP_PORT", 8081),
            database_url=url,
            api_key=env.get("DEMOSHOP_API_KEY", DEFAULT_API_KEY),
            threads=_int(env, "DEMOSHOP_THREADS", 8),
            fault_delay_ms=_int(env, "DEMOSHOP_FAULT_DELAY_MS", 0),
            seed=_int(env, "DEMOSHOP_SEED", 20240611),
        )


def _int(env, name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number, got {raw!r}") from None
