"""A throw-away PostgreSQL server for a test session: initdb in a temp dir, a free port, stopped by PID."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import subprocess
from pathlib import Path
from typing import List

from tests.support.processes import Service, free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found: run `make system-deps` (apt-get install postgresql)")
    return found[-1]


def _as_db_user(args: List[str]) -> List[str]:
    # PostgreSQL refuses to run as root; as root we run it as the `postgres` user of the Debian package.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresServer:
    """A real PostgreSQL on 127.0.0.1 with one database, `assistant`, trusted for local connections."""

    def __init__(self, root: Path | None = None):
        # Not under pytest's tmp dir: that is private to root, and the server runs as `postgres`.
        self.root = root or Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.service: Service | None = None

    def start(self) -> "PostgresServer":
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        init = subprocess.run(
            _as_db_user([_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]),
            capture_output=True, text=True,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")
        args = _as_db_user([_bin("postgres"), "-D", str(self.data), "-p", str(self.port), "-h", "127.0.0.1",
                            "-k", str(self.root), "-c", "fsync=off", "-c", "max_connections=200"])
        self.service = Service("postgresql", args, log_path=self.root / "postgres.log")
        self.service.wait_until(lambda: subprocess.run(
            [_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True).returncode == 0, 60)
        subprocess.run([_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "assistant"],
                       check=True, capture_output=True)
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/assistant"

    def stop(self) -> None:
        if self.service:
            self.service.stop()
        shutil.rmtree(self.root, ignore_errors=True)
