"""`python -m actions`: the action server with JSON logs, a bearer token and a Prometheus /metrics port.

rasa-sdk's executor in this project's app (actions/server.py: token, checked requests, no CORS), every log line
JSON on stdout. `ACTIONS_HOST` (default 127.0.0.1), `ACTIONS_PORT` (default 5055), `ACTION_SERVER_TOKEN`
(required: the bearer token Rasa sends, endpoints.yml), `ACTIONS_METRICS_PORT` (default 9105, 0 to disable) on
`ACTIONS_METRICS_HOST`, `LOG_LEVEL`; the backends' and the customer tokens' variables are read at start too,
so a bad value stops the server before it answers anything.
"""

from __future__ import annotations

import logging
import sys

from prometheus_client import start_http_server
from pydantic import Field, SecretStr, validator

from actions.backends.settings import BackendSettings
from actions.customer_token import CustomerTokenSettings
from foundation.logging import configure_json_logging
from foundation.rate_limits import RateLimitSettings
from foundation.settings import LogLevel, Port, PortOrZero, ProcessSettings, SettingsError

log = logging.getLogger("actions")


class ActionServerSettings(ProcessSettings):
    """Where the action server listens and how much it logs."""

    host: str = Field("127.0.0.1", env="ACTIONS_HOST")
    port: Port = Field(5055, env="ACTIONS_PORT")
    token: SecretStr | None = Field(None, env="ACTION_SERVER_TOKEN")  # required to serve: checked in main()
    metrics_port: PortOrZero = Field(9105, env="ACTIONS_METRICS_PORT")  # 0: no metrics endpoint
    metrics_host: str = Field("127.0.0.1", env="ACTIONS_METRICS_HOST")
    log_level: LogLevel = Field("INFO", env="LOG_LEVEL")

    @validator("token")
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < 16:
            raise ValueError("must be at least 16 characters (make run generates one: foundation/local_secrets.py)")
        return value


def main() -> int:
    """Serve the custom actions until stopped; 2 when a setting is unusable."""
    configure_json_logging()  # first: a settings error is a JSON line too
    try:
        settings = ActionServerSettings.from_env()
        BackendSettings.current()  # read once here; the clients and the token check use these
        CustomerTokenSettings.current()
        RateLimitSettings.current()  # the one-time codes' limits (actions/identity.py)
    except SettingsError as problem:
        log.error("invalid configuration", extra={"error": str(problem)})
        return 2
    if settings.token is None:
        log.error(
            "invalid configuration",
            extra={"error": "ACTION_SERVER_TOKEN is not set: the bearer token Rasa sends (endpoints.yml)"},
        )
        return 2
    configure_json_logging(settings.log_level, quiet=("sanic.access", "matplotlib"))
    from actions.server import create_app  # after the logging set-up: rasa-sdk's import warns, JSON too

    app = create_app("actions", settings.token.get_secret_value())
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("action server listening", extra={"url": f"http://{settings.host}:{settings.port}"})
    app.run(settings.host, settings.port, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
