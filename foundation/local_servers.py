"""Throw-away servers on 127.0.0.1 and free ports, for the tests and the benchmarks: the demo shop,
PostgreSQL and Redis, each a real process started and stopped by foundation.processes.

The benchmarks start their stack exactly as the integration tests do, from here, without importing the tests.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from foundation.processes import ChildProcess, free_port


def start_demoshop(
    tmp: Path, *, database_url: str | None = None, env: dict[str, str] | None = None, port: int | None = None
) -> tuple[ChildProcess, str]:
    """Run `python -m demoshop` (key `test-key`, a SQLite file in `tmp` unless `database_url`); the process and
    its base URL once /health answers."""
    port = port or free_port()
    settings = {
        "DEMOSHOP_PORT": str(port),
        "DEMOSHOP_DATABASE_URL": database_url or f"sqlite:///{tmp / 'demoshop.sqlite'}",
        "DEMOSHOP_API_KEY": "test-key",
        "DEMOSHOP_METRICS_PORT": "0",  # off unless `env` gives it a port: several shops may run at once
        **(env or {}),
    }
    service = ChildProcess("demoshop", [sys.executable, "-m", "demoshop"], settings, tmp / f"demoshop-{port}.log")
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=60)
    return service, base


def redis_binary() -> str:
    """The redis-server binary of the Debian package, or a clear error saying how to install it."""
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server is missing: run `make system-deps` (apt-get install redis-server)")
    return found


def redis_command(port: int, directory: Path) -> list[str]:
    """Redis on loopback at `port`, without persistence (locks and counters live only as long as they matter)."""
    return [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
        "--protected-mode",
        "yes",
    ]


def start_redis(tmp: Path) -> tuple[ChildProcess, int]:
    """Start Redis without persistence and wait until it answers PING; the process (stop it by PID) and its port."""
    port = free_port()
    service = ChildProcess("redis", redis_command(port, tmp), log_path=tmp / "redis.log")

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")

    service.wait_until(ping, 30, condition="answering PING")
    return service, port


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: run `make system-deps` (apt-get install postgresql)")
    return found[-1]


def _as_db_user(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; as root we run it as the `postgres` user of the Debian package.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresServer:
    """A real PostgreSQL on 127.0.0.1 with one database, `assistant`, trusted for local connections."""

    def __init__(self, root: Path | None = None):
        # Not under pytest's tmp dir: that is private to root, and the server runs as `postgres`.
        self.root = root or Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.service: ChildProcess | None = None

    def start(self) -> PostgresServer:
        """initdb, start the server, wait until it accepts connections, create the database."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        init = subprocess.run(
            _as_db_user(
                [
                    _postgres_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
        args = _as_db_user(
            [
                _postgres_bin("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.root),
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ]
        )
        self.service = ChildProcess("postgresql", args, log_path=self.root / "postgres.log")
        self.service.wait_until(
            lambda: (
                subprocess.run(
                    [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
                ).returncode
                == 0
            ),
            60,
            condition="accepting connections",
        )
        subprocess.run(
            [_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "assistant"],
            check=True,
            capture_output=True,
        )
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/assistant"

    def stop(self) -> None:
        """Stop the server by PID and remove its data directory."""
        if self.service:
            self.service.stop()
        shutil.rmtree(self.root, ignore_errors=True)
