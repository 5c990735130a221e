"""Start the stack's processes, wait until each answers, watch them, and stop them by PID.

The running stack is written to a state file (PIDs, URLs, logs) so that `make stop` and a second
`make run` know about it even from another terminal, and so that a crashed launcher leaves nothing
behind that `make stop` cannot find.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import requests

from launcher.services import REPO, ServiceSpec


class StartupError(RuntimeError):
    """A process of the stack could not start; the message says which and where its log is."""


def pid_alive(pid: int) -> bool:
    """True while a process with this PID exists (zombies of our own children count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def stop_pid(pid: int, timeout: float = 20.0) -> bool:
    """SIGTERM the process group led by `pid`, SIGKILL it after `timeout`; True if it was running."""
    if not pid_alive(pid):
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.1)
    return True


@dataclass
class StateFile:
    """The JSON file describing the running stack: the launcher's PID and each service's PID and URL."""

    path: Path

    def read(self) -> Optional[Dict]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def write(self, state: Dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def running(self) -> Optional[Dict]:
        """The recorded stack if any of its processes is still alive; a stale file is removed."""
        state = self.read()
        if not state:
            return None
        pids = [state.get("launcher_pid", 0)] + [s["pid"] for s in state.get("services", {}).values()]
        if any(pid and pid_alive(pid) for pid in pids):
            return state
        self.clear()
        return None


def as_json_line(raw: bytes, source: str) -> bytes:
    """A log line as one JSON object: JSON lines pass as they are, anything else is wrapped.

    The services log JSON through Python logging, but native code writes straight to the stream
    (TensorFlow's C++ start-up warnings, a crash's last words); those must not break a JSON log.
    """
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        if isinstance(json.loads(text), dict):
            return text.encode() + b"\n"
    except ValueError:
        pass
    record = {"asctime": time.strftime("%Y-%m-%d %H:%M:%S"), "level": "INFO", "name": source, "message": text}
    return json.dumps(record).encode() + b"\n"


class ManagedProcess:
    """One started service: its child process, its log file and its health check."""

    def __init__(self, spec: ServiceSpec, log_dir: Path):
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            spec.command, cwd=str(REPO), env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops the children in order
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"log-{spec.name}", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            if raw.strip():
                self._log.write(as_json_line(raw, f"{self.spec.name}.console"))
                self._log.flush()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exited(self) -> Optional[int]:
        return self.proc.poll()

    def healthy(self) -> bool:
        try:
            answer = requests.get(self.spec.health_url, headers=self.spec.health_headers, timeout=2)
        except requests.RequestException:
            return False
        if answer.status_code != 200:
            return False
        if self.spec.ready_json_key:
            try:
                return bool(answer.json().get(self.spec.ready_json_key))
            except ValueError:
                return False
        return True

    def wait_healthy(self, on_wait: Callable[[float], None] = lambda elapsed: None) -> float:
        """Seconds until the health check passed; StartupError if the process died or took too long."""
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            if self.exited() is not None:
                raise StartupError(f"the {self.spec.title} exited with code {self.proc.returncode} while starting; "
                                   f"last lines of {self.log_path}:\n{self.tail()}")
            if self.healthy():
                return elapsed
            if elapsed > self.spec.startup_seconds:
                raise StartupError(f"the {self.spec.title} did not answer {self.spec.health_url} within "
                                   f"{self.spec.startup_seconds:.0f} s; see {self.log_path}:\n{self.tail()}")
            on_wait(elapsed)
            time.sleep(0.5)

    def stop(self) -> None:
        stop_pid(self.pid)
        self.proc.poll()
        self._pump.join(timeout=5)
        self._log.close()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stop_all(processes: List[ManagedProcess]) -> None:
    """Stop in reverse start order, so nothing is left calling a backend that is already gone."""
    for process in reversed(processes):
        process.stop()
