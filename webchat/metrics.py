"""Prometheus metrics of the web chat server: requests by route and status, session tokens issued.

`count_request` is called once per answered request (webchat/server.py, where the request's log line is written);
`serve()` starts the `/metrics` endpoint on `WEBCHAT_METRICS_HOST:WEBCHAT_METRICS_PORT` (default 127.0.0.1:9108,
0: off). Routes are the server's own (`/health`, `/config.js`, `/session`), `static` for a file it serves and
`unmatched` for anything else, so no requested path becomes a label.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from prometheus_client import Counter
from pydantic import Field

from foundation.metrics_endpoint import serve_metrics
from foundation.settings import PortOrZero, ProcessSettings

log = logging.getLogger("webchat.metrics")

ROUTES = frozenset({"/health", "/config.js", "/session"})
SESSION_ROUTE = "/session"
STATIC = "static"
UNMATCHED = "unmatched"

REQUESTS = Counter(
    "assistant_webchat_requests_total",
    "Requests the web chat server answered, by route and status.",
    ["route", "status"],
)
SESSIONS_ISSUED = Counter("assistant_webchat_sessions_issued_total", "Session tokens the web chat server issued.")


class WebchatMetricsSettings(ProcessSettings):
    """Where the web chat server serves its `/metrics`: a port of its own, beside the page's."""

    port: PortOrZero = Field(9108, env="WEBCHAT_METRICS_PORT")  # 0: no metrics endpoint
    host: str = Field("127.0.0.1", env="WEBCHAT_METRICS_HOST")


def route_label(path: str, static_file: Callable[[str], Any]) -> str:
    """The `route` label of a request path: one of the server's routes, `static` when `static_file(path)` finds a
    file to serve, else `unmatched`."""
    if path in ROUTES:
        return path
    return STATIC if static_file(path) is not None else UNMATCHED


def count_request(route: str, status: int) -> None:
    """Add one answered request; a 200 on `/session` is a session token issued."""
    REQUESTS.labels(route, str(status)).inc()
    if route == SESSION_ROUTE and status == HTTPStatus.OK:
        SESSIONS_ISSUED.inc()


def serve(settings: WebchatMetricsSettings | None = None) -> bool:
    """Serve `/metrics` for this web chat server (False when WEBCHAT_METRICS_PORT is 0 or its port is taken)."""
    settings = settings or WebchatMetricsSettings.current()
    return serve_metrics(settings.port, settings.host, "WEBCHAT_METRICS_PORT", log)
