"""The Prometheus `/metrics` endpoint a process serves on a port of its own (prometheus_client's server thread).

Every process of the project exports its metrics the same way: `<PART>_METRICS_PORT` (0 turns it off) on
`<PART>_METRICS_HOST`, from the default registry (or the one given), in a daemon thread beside the process's
own server. A port that cannot be bound is logged as one error naming the variable, and the process goes on
serving without its metrics: losing them must not stop a shop or a conversation (Prometheus then shows the
target down).
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

_serving: set[tuple[str, int]] = set()


def serve_metrics(
    port: int, host: str, variable: str, log: logging.Logger, registry: CollectorRegistry = REGISTRY
) -> bool:
    """Serve `registry` (the default one unless given) at `/metrics` on host:port, once per process; False when
    off (port 0) or when the port cannot be bound."""
    if not port:
        return False
    if (host, port) in _serving:
        return True
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        log.error(
            "metrics endpoint not started",
            extra={"variable": variable, "host": host, "port": port, "error": str(error)},
        )
        return False
    _serving.add((host, port))
    log.info("metrics endpoint listening", extra={"url": f"http://{host}:{port}/metrics"})
    return True
