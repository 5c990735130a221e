"""What `make run` starts: the processes of the embedded stack, their ports, logs and health checks.

Every address comes from the environment (or `.env`) with the embedded default, the same variables the
processes read themselves (see .env.example), so `make run` with nothing set gives the stack
docs/operations.md describes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

import yaml
from pydantic import Field

from foundation import REPO
from foundation.local_secrets import local_secret
from foundation.settings import Port, ProcessSettings
from launcher.tuning import rasa_env

# How Rasa's endpoints file names the action server's token: Rasa fills in `${...}` from its environment.
ACTION_TOKEN_HEADER = "Bearer ${ACTION_SERVER_TOKEN}"


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack: how to start it and how to tell that it answers."""

    name: str
    title: str
    command: list[str]
    env: dict[str, str]
    port: int
    health_path: str
    health_headers: dict[str, str] = field(default_factory=dict)
    ready_json_key: str | None = None  # the health answer must carry a non-empty value here
    startup_seconds: float = 60.0
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        return self.url + self.health_path


class StackSettings(ProcessSettings):
    """The knobs of the embedded stack (`make run`), read once by the launcher and passed to the plan."""

    HOST: ClassVar[str] = "127.0.0.1"  # the embedded stack listens on loopback only

    demoshop_port: Port = Field(8081, env="DEMOSHOP_PORT")
    actions_port: Port = Field(5055, env="ACTIONS_PORT")
    rasa_port: Port = Field(5005, env="RASA_PORT")
    webchat_port: Port = Field(8080, env="WEBCHAT_PORT")
    analytics_port: Port = Field(8090, env="ANALYTICS_PORT")
    model: Path = Field(REPO / "models" / "larkspur.tar.gz", env="RASA_MODEL")
    endpoints: Path = Field(REPO / "endpoints.yml", env="RASA_ENDPOINTS")
    credentials: Path = Field(REPO / "credentials.yml", env="RASA_CREDENTIALS")
    rasa_auth_token: str = Field("", env="RASA_AUTH_TOKEN")

    @property
    def host(self) -> str:
        return self.HOST

    @property
    def webchat_url(self) -> str:
        return f"http://{self.host}:{self.webchat_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def report_url(self) -> str:
        return f"http://{self.host}:{self.analytics_port}/report"


def sql_broker_db(endpoints: Path) -> str | None:
    """The SQLite file of the endpoints' SQL event broker (what the analytics consumer reads), None for another
    broker. A relative path is the repository's, where Rasa runs."""
    config = yaml.safe_load(endpoints.read_text()) or {}
    broker = config.get("event_broker") or {}
    if str(broker.get("type", "")).lower() != "sql" or str(broker.get("dialect", "sqlite")) != "sqlite":
        return None
    db = Path(str(broker.get("db") or "events.db"))
    return str(db if db.is_absolute() else REPO / db)


def endpoints_for(settings: StackSettings, state_dir: Path) -> Path:
    """The endpoints file Rasa gets: the configured one, with its action URL moved to ACTIONS_PORT if needed and
    the action server's bearer header added if it lacks one.

    endpoints.yml names the action server's default port; an operator who moves the action server with
    ACTIONS_PORT should not also have to edit YAML, nor add the token header to a file of their own: the action
    server refuses calls without it (`ACTION_SERVER_TOKEN`, which the launcher sets for both processes).
    """
    config = yaml.safe_load(settings.endpoints.read_text()) or {}
    action = dict(config.get("action_endpoint") or {})
    changed = False
    wanted = f"http://{settings.host}:{settings.actions_port}/webhook"
    if action.get("url") not in (None, wanted) and "127.0.0.1" in str(action.get("url")):
        action["url"] = wanted
        changed = True
    headers = dict(action.get("headers") or {})
    if action.get("url") and not any(name.lower() == "authorization" for name in headers):
        action["headers"] = {**headers, "Authorization": ACTION_TOKEN_HEADER}  # expanded by Rasa, unquoted
        changed = True
    if not changed:
        return settings.endpoints
    config["action_endpoint"] = action
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "endpoints.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stack_plan(settings: StackSettings, state_dir: Path) -> list[ServiceSpec]:
    """The processes in start order, each with its own environment on top of the caller's."""
    python = sys.executable
    shop_url = f"http://{settings.host}:{settings.demoshop_port}"
    # The bearer token Rasa sends and the action server requires (endpoints.yml): the operator's, or generated.
    action_token = {"ACTION_SERVER_TOKEN": local_secret("ACTION_SERVER_TOKEN")}
    rasa_args = [
        python,
        "-m",
        "rasa_runtime",
        "run",
        "--model",
        str(settings.model),
        "--endpoints",
        str(endpoints_for(settings, state_dir)),
        "--credentials",
        str(settings.credentials),
        "--interface",
        settings.host,
        "--port",
        str(settings.rasa_port),
        "--cors",
        settings.webchat_url,
        "--enable-api",
    ]
    status_path = "/status"
    if settings.rasa_auth_token:
        rasa_args += ["--auth-token", settings.rasa_auth_token]
        status_path += "?" + urlencode({"token": settings.rasa_auth_token})  # Rasa 3.6 reads its token from ?token=
    plan = [
        ServiceSpec(
            "demoshop",
            "demo shop",
            [python, "-m", "demoshop"],
            {"DEMOSHOP_HOST": settings.host, "DEMOSHOP_PORT": str(settings.demoshop_port)},
            settings.demoshop_port,
            "/health",
            startup_seconds=60,
        ),
        ServiceSpec(
            "actions",
            "action server",
            [python, "-m", "actions"],
            {"ACTIONS_PORT": str(settings.actions_port), "DEMOSHOP_URL": shop_url, **action_token},
            settings.actions_port,
            "/health",
            startup_seconds=90,
        ),
        ServiceSpec(
            "rasa",
            "Rasa server",
            rasa_args,
            {**rasa_env(), "RASA_TELEMETRY_ENABLED": "false", **action_token},
            settings.rasa_port,
            status_path,
            ready_json_key="model_file",
            startup_seconds=300,
        ),
        ServiceSpec(
            "webchat",
            "web widget",
            [python, "-m", "webchat"],
            {
                "WEBCHAT_HOST": settings.host,
                "WEBCHAT_PORT": str(settings.webchat_port),
                "RASA_PUBLIC_URL": settings.rasa_url,
            },
            settings.webchat_port,
            "/health",
            startup_seconds=30,
        ),
    ]
    events_db = sql_broker_db(settings.endpoints)
    if events_db is not None:  # the consumer of the SQL broker, with the report page (docs/analytics.md)
        plan.append(
            ServiceSpec(
                "analytics",
                "analytics",
                [python, "-m", "analytics", "consume", "--source", "sql", "--serve"],
                {
                    "ANALYTICS_HOST": settings.host,
                    "ANALYTICS_PORT": str(settings.analytics_port),
                    "ANALYTICS_EVENTS_DB": events_db,
                    "REPORT_TOKEN": local_secret("REPORT_TOKEN"),
                },
                settings.analytics_port,
                "/health",
                startup_seconds=60,
            )
        )
    return plan
