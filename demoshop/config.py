"""Settings of the demo shop, read once from the environment (or `.env`) at its start (twelve-factor)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, conint

from foundation.settings import Port, ProcessSettings

DEFAULT_API_KEY = "demoshop-dev-key"
DEFAULT_DB_PATH = Path("var") / "demoshop.sqlite"


class Settings(ProcessSettings):
    """Everything the demo shop reads from the environment; see `.env.example`."""

    host: str = Field("127.0.0.1", env="DEMOSHOP_HOST")
    port: Port = Field(8081, env="DEMOSHOP_PORT")
    database_url: str = Field(f"sqlite:///{DEFAULT_DB_PATH}", env="DEMOSHOP_DATABASE_URL")
    api_key: str = Field(DEFAULT_API_KEY, env="DEMOSHOP_API_KEY")
    threads: conint(ge=1) = Field(8, env="DEMOSHOP_THREADS")
    fault_delay_ms: conint(ge=0) = Field(0, env="DEMOSHOP_FAULT_DELAY_MS")
    seed: int = Field(20240611, env="DEMOSHOP_SEED")
