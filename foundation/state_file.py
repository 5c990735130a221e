"""The JSON file a supervisor keeps of the processes it started, so that another terminal can find and stop them.

`make run` (launcher/) and `make run-cluster` (cluster/) each write one: the supervisor's own PID under
`owner_key`, and its children, each with a `pid`, under `children_key`. A file whose processes are all gone is
stale and removed when read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from foundation.processes import pid_alive


@dataclass
class StateFile:
    """The state file of one supervisor: read, written whole (never half-written), cleared, checked for life."""

    path: Path
    owner_key: str = "launcher_pid"
    children_key: str = "services"

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def write(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        draft = self.path.with_suffix(f".{os.getpid()}.tmp")
        draft.write_text(json.dumps(state, indent=2))
        draft.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def running(self) -> dict | None:
        """The recorded state while the supervisor or any of its children is alive; a stale file is removed."""
        state = self.read()
        if not state:
            return None
        pids = [state.get(self.owner_key, 0)] + [c["pid"] for c in state.get(self.children_key, {}).values()]
        if any(pid and pid_alive(pid) for pid in pids):
            return state
        self.clear()
        return None
