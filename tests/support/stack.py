"""The whole assistant as real processes: demo shop, action server and Rasa server, on free loopback ports."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from foundation import REPO
from foundation.local_servers import start_demoshop
from foundation.processes import ChildProcess, free_port

MODEL = REPO / "models" / "larkspur.tar.gz"
ACTION_SERVER_TOKEN = "stack-action-server-token-0123456789"


def new_sender() -> str:
    """A REST sender id the webhook accepts: 24 random bytes, URL-safe (channels/sessions.py)."""
    return secrets.token_urlsafe(24)  # Rasa sends it, the action server requires it


@dataclass
class Stack:
    """The started stack: its processes and URLs; `say` talks to it as a shopper would, `stop` ends it."""

    shop: ChildProcess
    shop_url: str
    actions: ChildProcess
    rasa: ChildProcess
    rasa_url: str
    rasa_metrics_url: str = ""  # the Rasa server's /metrics (RASA_METRICS_PORT, a free port of its own)

    def say(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        """Send a shopper's message through the REST channel; returns the bot's messages."""
        body = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = requests.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        for service in (self.rasa, self.actions, self.shop):
            service.stop()


def start_stack(
    tmp: Path,
    env: dict[str, str] | None = None,
    *,
    rasa_env: dict[str, str] | None = None,
    credentials: Path | None = None,
    rasa_args: Sequence[str] = (),
    event_broker_db: Path | None = None,
) -> Stack:
    """Start demo shop, action server and Rasa server on free ports.

    `env` goes to the action server, `rasa_env` to the Rasa server (channel secrets, for example),
    `credentials` replaces the project's credentials.yml and `rasa_args` are extra `rasa run` flags
    (for example `("--cors", "*")`); `event_broker_db` adds Rasa's SQL event broker on that SQLite file, as
    endpoints.yml has it.
    """
    if not MODEL.exists():
        raise RuntimeError(f"{MODEL} is missing: run `make train` first (make test does)")
    env = dict(env or {})
    shop, shop_url = start_demoshop(tmp)
    started = [shop]
    try:
        action_port, rasa_port, rasa_metrics_port = free_port(), free_port(), free_port()
        backend_env = {
            "DEMOSHOP_URL": shop_url,
            "DEMOSHOP_API_KEY": "test-key",
            "ACTIONS_PORT": str(action_port),
            "ACTIONS_METRICS_PORT": str(free_port()),
            "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
            **env,
        }
        actions = ChildProcess("actions", [sys.executable, "-m", "actions"], backend_env, tmp / "actions.log")
        started.append(actions)
        actions.wait_http(f"http://127.0.0.1:{action_port}/health", timeout=90)
        endpoints = tmp / "endpoints.yml"
        # The project's tracker store, as endpoints.yml configures it, on a SQLite file of this stack.
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"  # unquoted: Rasa expands plain values only
            f"tracker_store:\n  type: conversation_stores.tracker_store.CachingSQLTrackerStore\n"
            f'  dialect: sqlite\n  db: "{tmp}/tracker.sqlite"\n'
            + (f'event_broker:\n  type: SQL\n  dialect: sqlite\n  db: "{event_broker_db}"\n' if event_broker_db else "")
        )
        # As `make run` serves it: the project's entry point (JSON logs, patches, no TensorFlow for this model).
        rasa = ChildProcess(
            "rasa",
            [
                sys.executable,
                "-m",
                "rasa_runtime",
                "run",
                "--model",
                str(MODEL),
                "--port",
                str(rasa_port),
                "--interface",
                "127.0.0.1",
                "--enable-api",
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(credentials or REPO / "credentials.yml"),
                *rasa_args,
            ],
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "ACTION_SERVER_TOKEN": backend_env["ACTION_SERVER_TOKEN"],
                "RASA_METRICS_PORT": str(rasa_metrics_port),
                **(rasa_env or {}),
            },
            tmp / "rasa.log",
        )
        started.append(rasa)
        rasa_url = f"http://127.0.0.1:{rasa_port}"
        rasa.wait_http(f"{rasa_url}/status", timeout=240, json_key="model_file")
    except BaseException:  # nothing half-started is left running
        for service in reversed(started):
            service.stop()
        raise
    return Stack(shop, shop_url, actions, rasa, rasa_url, f"http://127.0.0.1:{rasa_metrics_port}/metrics")
