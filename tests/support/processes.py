"""Start real services for a test on 127.0.0.1 and a free port, wait for them, stop them by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import requests

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A child process a test started; `stop()` ends it (and its children) by PID."""

    def __init__(self, name: str, args: List[str], env: Optional[Dict[str, str]] = None,
                 log_path: Optional[Path] = None, cwd: Optional[Path] = None):
        self.name = name
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, cwd=str(cwd or REPO),
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_until(self, ready: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log: {self.tail()}")
            try:
                if ready():
                    return
            except Exception:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} not ready within {timeout}s; log: {self.tail()}")

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        self.wait_until(lambda: requests.get(url, timeout=1).status_code == 200, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.running():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self._log is not subprocess.DEVNULL:
            self._log.close()
            self._log = subprocess.DEVNULL

    def tail(self, lines: int = 20) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return "(no log)"
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])


def start_demoshop(tmp: Path, *, database_url: Optional[str] = None, env: Optional[Dict[str, str]] = None,
                   port: Optional[int] = None) -> "tuple[Service, str]":
    """Run `python -m demoshop` as a real process; returns the service and its base URL."""
    port = port or free_port()
    settings = {
        "DEMOSHOP_PORT": str(port),
        "DEMOSHOP_DATABASE_URL": database_url or f"sqlite:///{tmp / 'demoshop.sqlite'}",
        "DEMOSHOP_API_KEY": "test-key",
        **(env or {}),
    }
    service = Service("demoshop", [sys.executable, "-m", "demoshop"], settings, tmp / f"demoshop-{port}.log")
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=60)
    return service, base
