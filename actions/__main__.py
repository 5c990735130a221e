"""`python -m actions`: the action server with JSON logs and a Prometheus /metrics port.

Same server as `rasa run actions` (rasa-sdk's endpoint), with this project's logging: every line JSON
on stdout. `ACTIONS_PORT` (default 5055), `ACTIONS_METRICS_PORT` (default 9105, 0 to disable) on
`ACTIONS_METRICS_HOST`, `LOG_LEVEL`; the backends' and the customer tokens' variables are read at start too,
so a bad value stops the server before it answers anything.
"""

from __future__ import annotations

import logging
import sys

from prometheus_client import start_http_server
from pydantic import Field

from actions.backends.settings import BackendSettings
from actions.customer_token import CustomerTokenSettings
from foundation.logging import configure_json_logging
from foundation.settings import LogLevel, Port, PortOrZero, ProcessSettings, SettingsError

log = logging.getLogger("actions")


class ActionServerSettings(ProcessSettings):
    """Where the action server listens and how much it logs."""

    port: Port = Field(5055, env="ACTIONS_PORT")
    metrics_port: PortOrZero = Field(9105, env="ACTIONS_METRICS_PORT")  # 0: no metrics endpoint
    metrics_host: str = Field("127.0.0.1", env="ACTIONS_METRICS_HOST")
    log_level: LogLevel = Field("INFO", env="LOG_LEVEL")


def main() -> int:
    """Serve the custom actions until stopped; 2 when a setting is unusable."""
    configure_json_logging()  # first: a settings error is a JSON line too
    try:
        settings = ActionServerSettings.from_env()
        BackendSettings.current()  # read once here; the clients and the token check use these
        CustomerTokenSettings.current()
    except SettingsError as problem:
        log.error("invalid configuration", extra={"error": str(problem)})
        return 2
    configure_json_logging(settings.log_level, quiet=("sanic.access", "matplotlib"))
    from rasa_sdk.endpoint import run  # after the logging set-up: its import warns, and that must be JSON too

    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    run("actions", port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
