"""`python -m actions`: the action server with JSON logs and a Prometheus /metrics port.

Same server as `rasa run actions` (rasa-sdk's endpoint), with this project's logging: every line JSON
on stdout. `ACTIONS_PORT` (default 5055) and `ACTIONS_METRICS_PORT` (default 9105, 0 to disable).
"""

from __future__ import annotations

import logging
import os

from prometheus_client import start_http_server

from actions.observability import configure_json_logging


def main() -> None:
    configure_json_logging(os.environ.get("LOG_LEVEL", "INFO"))
    from rasa_sdk.endpoint import run  # after the logging set-up: its import warns, and that must be JSON too

    for noisy in ("sanic.access", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    metrics_port = int(os.environ.get("ACTIONS_METRICS_PORT", "9105"))
    if metrics_port:
        start_http_server(metrics_port, addr=os.environ.get("ACTIONS_METRICS_HOST", "127.0.0.1"))
    run("actions", port=int(os.environ.get("ACTIONS_PORT", "5055")))


if __name__ == "__main__":
    main()
