"""Start the stack's processes, wait until each answers, watch them, and stop them by PID.

The running stack is written to a state file (PIDs, URLs, logs) so that `make stop` and a second
`make run` know about it even from another terminal, and so that a crashed launcher leaves nothing
behind that `make stop` cannot find.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from foundation import REPO
from foundation.logging import as_json_line  # noqa: F401  (named here by tests/unit/test_launcher.py)
from foundation.processes import ChildProcess, pid_alive, stop_pid  # noqa: F401  (stop_pid: the same)
from launcher.services import ServiceSpec


@dataclass
class StateFile:
    """The JSON file describing the running stack: the launcher's PID and each service's PID and URL."""

    path: Path

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def write(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def running(self) -> dict | None:
        """The recorded stack if any of its processes is still alive; a stale file is removed."""
        state = self.read()
        if not state:
            return None
        pids = [state.get("launcher_pid", 0)] + [s["pid"] for s in state.get("services", {}).values()]
        if any(pid and pid_alive(pid) for pid in pids):
            return state
        self.clear()
        return None


class ManagedProcess(ChildProcess):
    """One service of the stack started from its spec: its log is `<log_dir>/<name>.log` in JSON lines."""

    def __init__(self, spec: ServiceSpec, log_dir: Path):
        self.spec = spec
        super().__init__(
            spec.title,
            spec.command,
            spec.env,
            log_dir / f"{spec.name}.log",
            cwd=REPO,
            json_source=f"{spec.name}.console",
        )

    def wait_healthy(self, on_wait: Callable[[float], None] = lambda elapsed: None) -> float:
        """Seconds from its start until its health check passed; StartupError if it died or took too long."""
        return self.wait_http(
            self.spec.health_url,
            self.spec.startup_seconds,
            headers=self.spec.health_headers,
            json_key=self.spec.ready_json_key,
            on_wait=on_wait,
            interval=0.5,
        )


def stop_all(processes: list[ManagedProcess]) -> None:
    """Stop in reverse start order, so nothing is left calling a backend that is already gone."""
    for process in reversed(processes):
        process.stop(timeout=20.0)
