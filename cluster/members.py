"""One process of the cluster (`Member`): how to start it, how to tell it is ready, and the probes that tell."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from foundation.processes import http_ready

Probe = Callable[[], bool]


@dataclass
class Member:
    """A process the cluster starts, watches and restarts under the same name, port and command.

    `role` groups replicas (`rasa` for rasa-1, rasa-2, ...); `ready` says it serves; `prepare` runs before each
    start (data directories, configuration files); `after_ready` runs once, the first time it is ready
    (creating databases, for example).
    """

    name: str
    role: str
    command: list[str]
    port: int
    ready: Probe
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    startup_seconds: float = 60.0
    after_ready: Callable[[], None] | None = None
    prepare: Callable[[], None] | None = None  # before every start: data directories, config files
    json_logs: bool = False  # a Python process of ours: its output is wrapped into JSON lines
    routing_down: set[int] | None = None  # the load balancer only: ports of replicas it must not use now
    metrics_port: int = 0  # where it serves Prometheus /metrics, 0: nowhere (shown by `make status-cluster`)

    def __post_init__(self) -> None:
        self.url = self.url or f"127.0.0.1:{self.port}"


def http_probe(url: str, json_key: str | None = None, headers: dict[str, str] | None = None) -> Probe:
    """Ready when `url` answers 200 (with a non-empty `json_key` in its JSON, when given)."""
    return lambda: http_ready(url, headers, json_key)


def redis_probe(port: int) -> Probe:
    """Ready when Redis answers PING."""

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")

    return ping


def amqp_probe(port: int) -> Probe:
    """Ready when the broker answers the AMQP 0-9-1 protocol header with a method frame (Connection.Start)."""

    def handshake() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.settimeout(2)
            connection.sendall(b"AMQP\x00\x00\x09\x01")
            return connection.recv(1) == b"\x01"

    return handshake


def tcp_probe(port: int) -> Probe:
    """Ready when something accepts connections on the port."""

    def connect() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    return connect
