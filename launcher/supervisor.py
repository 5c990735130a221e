"""Start the stack's processes, wait until each answers, watch them, and stop them by PID.

The running stack is written to a state file (PIDs, URLs, logs) so that `make stop` and a second
`make run` know about it even from another terminal, and so that a crashed launcher leaves nothing
behind that `make stop` cannot find.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from foundation import REPO
from foundation.logging import as_json_line  # noqa: F401  (named here by tests/unit/test_launcher.py)
from foundation.processes import ChildProcess, pid_alive, stop_pid  # noqa: F401  (stop_pid: the same)
from foundation.state_file import StateFile  # noqa: F401  (the launcher's: launcher_pid and services)
from launcher.services import ServiceSpec


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
