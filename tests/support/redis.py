"""A throw-away Redis for a test or benchmark: no persistence, 127.0.0.1, a free port, stopped by PID."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from tests.support.processes import Service, free_port


def redis_binary() -> str:
    """The redis-server binary of the Debian package, or a clear error saying how to install it."""
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server is missing: run `make system-deps` (apt-get install redis-server)")
    return found


def start_redis(tmp: Path) -> "tuple[Service, int]":
    """Start Redis and wait until it answers PING; the service (stop it by PID) and its port."""
    port = free_port()
    service = Service("redis", [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp), "--protected-mode", "yes"],
                      log_path=tmp / "redis.log")

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    service.wait_until(ping, 30)
    return service, port
