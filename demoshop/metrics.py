"""Prometheus metrics of the demo shop: requests by route pattern, method and status, their time, server errors.

`instrument(app)` counts every request the Flask app answers, refusals and errors included; `serve()` starts the
`/metrics` endpoint on `DEMOSHOP_METRICS_HOST:DEMOSHOP_METRICS_PORT` (default 127.0.0.1:9107, 0: off) beside
waitress. Routes are labelled by their pattern (`/v1/orders/<order_id>`), never the raw path: no order id,
email or fuzzed path becomes a label.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram
from pydantic import Field

from foundation.metrics_endpoint import serve_metrics
from foundation.settings import PortOrZero, ProcessSettings

log = logging.getLogger("demoshop.metrics")

UNMATCHED = "unmatched"  # the route label of a path no route serves (a 404 or a 405)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"

REQUESTS = Counter(
    "assistant_shop_requests_total",
    "Requests the demo shop answered, by route pattern, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "assistant_shop_request_seconds",
    "Time the demo shop took to answer a request, by route pattern.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ERRORS = Counter(
    "assistant_shop_errors_total", "Requests the demo shop answered with a 5xx, by route pattern.", ["route"]
)


class DemoshopMetricsSettings(ProcessSettings):
    """Where the demo shop serves its `/metrics`: a port of its own, beside the API's."""

    port: PortOrZero = Field(9107, env="DEMOSHOP_METRICS_PORT")  # 0: no metrics endpoint
    host: str = Field("127.0.0.1", env="DEMOSHOP_METRICS_HOST")


def route_label(rule: str | None) -> str:
    """The `route` label: the Flask route pattern that served the request, or `unmatched`."""
    return rule or UNMATCHED


def method_label(method: str) -> str:
    """The `method` label: an HTTP method the shop knows, or `other` (any token is a method to Werkzeug)."""
    return method if method in METHODS else OTHER_METHOD


def count(rule: str | None, method: str, status: int, seconds: float) -> None:
    """Add one answered request to the metrics."""
    route = route_label(rule)
    REQUESTS.labels(route, method_label(method), str(status)).inc()
    REQUEST_SECONDS.labels(route).observe(seconds)
    if status >= 500:
        ERRORS.labels(route).inc()


def instrument(app: Flask) -> None:
    """Count every answer of `app`; call before registering other request hooks, so its clock starts first."""

    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        count(request.url_rule.rule if request.url_rule else None, request.method, response.status_code, seconds)
        return response


def serve(settings: DemoshopMetricsSettings | None = None) -> bool:
    """Serve `/metrics` for this demo shop (False when DEMOSHOP_METRICS_PORT is 0 or its port is taken)."""
    settings = settings or DemoshopMetricsSettings.current()
    return serve_metrics(settings.port, settings.host, "DEMOSHOP_METRICS_PORT", log)
