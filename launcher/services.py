"""What `make run` starts: the four processes of the embedded stack, their ports, logs and health checks.

Every address comes from the environment with the embedded default, the same variables the processes
read themselves (see .env.example), so `make run` with nothing set gives the stack docs/operations.md describes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import yaml

from launcher.tuning import rasa_env

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack: how to start it and how to tell that it answers."""

    name: str
    title: str
    command: List[str]
    env: Dict[str, str]
    port: int
    health_path: str
    health_headers: Dict[str, str] = field(default_factory=dict)
    ready_json_key: Optional[str] = None  # the health answer must carry a non-empty value here
    startup_seconds: float = 60.0
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        return self.url + self.health_path


@dataclass(frozen=True)
class StackSettings:
    """The knobs of the embedded stack, read from the environment."""

    host: str
    demoshop_port: int
    actions_port: int
    rasa_port: int
    webchat_port: int
    model: Path
    endpoints: Path
    credentials: Path
    rasa_auth_token: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "StackSettings":
        def port(name: str, default: int) -> int:
            raw = environ.get(name) or str(default)
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise ValueError(f"{name}={raw!r} is not a TCP port (1-65535)")
            return int(raw)

        return cls(
            host="127.0.0.1",
            demoshop_port=port("DEMOSHOP_PORT", 8081),
            actions_port=port("ACTIONS_PORT", 5055),
            rasa_port=port("RASA_PORT", 5005),
            webchat_port=port("WEBCHAT_PORT", 8080),
            model=Path(environ.get("RASA_MODEL") or REPO / "models" / "larkspur.tar.gz"),
            endpoints=Path(environ.get("RASA_ENDPOINTS") or REPO / "endpoints.yml"),
            credentials=Path(environ.get("RASA_CREDENTIALS") or REPO / "credentials.yml"),
            rasa_auth_token=environ.get("RASA_AUTH_TOKEN", ""),
        )

    @property
    def webchat_url(self) -> str:
        return f"http://{self.host}:{self.webchat_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"


def endpoints_for(settings: StackSettings, state_dir: Path) -> Path:
    """The endpoints file Rasa gets: the configured one, its action URL moved to ACTIONS_PORT if needed.

    endpoints.yml names the action server's default port; an operator who moves the action server with
    ACTIONS_PORT should not also have to edit YAML.
    """
    config = yaml.safe_load(settings.endpoints.read_text()) or {}
    action = config.get("action_endpoint") or {}
    wanted = f"http://{settings.host}:{settings.actions_port}/webhook"
    if action.get("url") in (None, wanted) or "127.0.0.1" not in str(action.get("url")):
        return settings.endpoints
    config["action_endpoint"] = {**action, "url": wanted}
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stack_plan(settings: StackSettings, state_dir: Path) -> List[ServiceSpec]:
    """The processes in start order, each with its own environment on top of the caller's."""
    python = sys.executable
    shop_url = f"http://{settings.host}:{settings.demoshop_port}"
    rasa_args = [
        python, "-m", "rasa_runtime", "run",
        "--model", str(settings.model),
        "--endpoints", str(endpoints_for(settings, state_dir)),
        "--credentials", str(settings.credentials),
        "--interface", settings.host, "--port", str(settings.rasa_port),
        "--cors", settings.webchat_url,
        "--enable-api",
    ]
    auth = {}
    if settings.rasa_auth_token:
        rasa_args += ["--auth-token", settings.rasa_auth_token]
        auth = {"Authorization": f"Bearer {settings.rasa_auth_token}"}
    return [
        ServiceSpec("demoshop", "demo shop", [python, "-m", "demoshop"],
                    {"DEMOSHOP_HOST": settings.host, "DEMOSHOP_PORT": str(settings.demoshop_port)},
                    settings.demoshop_port, "/health", startup_seconds=60),
        ServiceSpec("actions", "action server", [python, "-m", "actions"],
                    {"ACTIONS_PORT": str(settings.actions_port), "DEMOSHOP_URL": shop_url},
                    settings.actions_port, "/health", startup_seconds=90),
        ServiceSpec("rasa", "Rasa server", rasa_args, {**rasa_env(), "RASA_TELEMETRY_ENABLED": "false"},
                    settings.rasa_port, "/status", health_headers=auth,
                    ready_json_key="model_file", startup_seconds=300),
        ServiceSpec("webchat", "web widget", [python, "-m", "webchat"],
                    {"WEBCHAT_HOST": settings.host, "WEBCHAT_PORT": str(settings.webchat_port),
                     "RASA_PUBLIC_URL": settings.rasa_url},
                    settings.webchat_port, "/health", startup_seconds=30),
    ]
