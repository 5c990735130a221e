"""Start the cluster's members wave by wave, keep each one running (a member that dies is started again under
the same name and port), record them in a state file, and stop them all by PID in reverse order.

A wave is the members of one role (rasa-1 ... rasa-N start together); the next wave starts once every member of
the previous one is ready. The state file (var/run/cluster.json) lists every member's role, PID, address, log and
restarts, so `make status-cluster`, `make stop-cluster` and `make chaos` find them from any terminal.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster.members import Member
from foundation.processes import ChildProcess, pid_alive, stop_pid
from foundation.state_file import StateFile as RecordedProcesses

RESTART_DELAY_S = 1.0
# Replicas kept out of nginx's rotation while they start again: a Rasa replica accepts connections long before its
# model is loaded. An action server listens only once it serves (a refused connection moves the call on), and each
# reload of nginx can break a client's idle keep-alive connection, so it is left to nginx's own failure marking.
BALANCED_ROLES = ("rasa",)


@dataclass
class StateFile(RecordedProcesses):
    """The JSON file describing the running cluster: the runner's PID, whether it is ready, and every member."""

    owner_key: str = "runner_pid"
    children_key: str = "members"


@dataclass
class Running:
    """A member as it runs now: its current process and how often it had to be started again."""

    member: Member
    process: ChildProcess
    restarts: int = 0
    last_start: float = field(default_factory=time.monotonic)


def waves(members: list[Member]) -> list[list[Member]]:
    """Consecutive members of the same role, as groups started together."""
    return [list(group) for _, group in itertools.groupby(members, key=lambda m: m.role)]


def start_member(member: Member, log_dir: Path) -> ChildProcess:
    """Prepare and start one member; its output goes to `<log_dir>/<name>.log`."""
    if member.prepare:
        member.prepare()
    return ChildProcess(
        member.name,
        member.command,
        member.env,
        log_dir / f"{member.name}.log",
        json_source=f"{member.name}.console" if member.json_logs else None,
    )


class Cluster:
    """The running members and the state file that describes them."""

    def __init__(self, members: list[Member], state_file: StateFile, log_dir: Path, summary: dict[str, Any]):
        self.members = members
        self.state_file = state_file
        self.log_dir = log_dir
        self.summary = summary
        self.running: dict[str, Running] = {}
        self.ready = False

    def write_state(self) -> None:
        self.state_file.write(
            {
                "runner_pid": os.getpid(),
                "ready": self.ready,
                **self.summary,
                "members": {
                    name: {
                        "role": run.member.role,
                        "pid": run.process.pid,
                        "port": run.member.port,
                        "url": run.member.url,
                        "metrics": f"127.0.0.1:{run.member.metrics_port}" if run.member.metrics_port else "",
                        "log": str(run.process.log_path),
                        "restarts": run.restarts,
                    }
                    for name, run in self.running.items()
                },
            }
        )

    def start(self, on_ready: Callable[[Member, float], None]) -> None:
        """Start every wave and wait until each member is ready (StartupError names the one that was not)."""
        for wave in waves(self.members):
            for member in wave:
                self.running[member.name] = Running(member, start_member(member, self.log_dir))
            self.write_state()
            for member in wave:
                seconds = self.running[member.name].process.wait_until(
                    member.ready, member.startup_seconds, condition="ready", interval=0.5
                )
                if member.after_ready:
                    member.after_ready()
                on_ready(member, seconds)
        self.ready = True
        self.write_state()

    def restart_dead(self, on_restart: Callable[[Member, int | None], None]) -> None:
        """Start again, under the same name and port, every member whose process has ended; a Rasa replica is
        taken out of nginx's rotation until it is ready again."""
        changed = False
        for run in self.running.values():
            code = run.process.exited()
            if code is None:
                continue
            run.process.stop(timeout=5)  # closes its log; its process group may still hold children
            if time.monotonic() - run.last_start < RESTART_DELAY_S:
                time.sleep(RESTART_DELAY_S)
            on_restart(run.member, code)
            if run.member.role in BALANCED_ROLES:
                self._route(run.member.port, routed=False)
            run.process = start_member(run.member, self.log_dir)
            run.restarts += 1
            run.last_start = time.monotonic()
            changed = True
        if changed:
            self.write_state()
        self._route_ready_again()

    def _balancer(self) -> Running | None:
        return next((run for run in self.running.values() if run.member.routing_down is not None), None)

    def _route(self, port: int, *, routed: bool) -> None:
        """Put a replica's port back into nginx's rotation or take it out, and reload nginx if that changed it."""
        balancer = self._balancer()
        if balancer is None or balancer.member.routing_down is None:
            return
        down = balancer.member.routing_down
        if (port not in down) == routed:
            return
        if routed:
            down.discard(port)
        else:
            down.add(port)
        if balancer.member.prepare:
            balancer.member.prepare()
        with contextlib.suppress(ProcessLookupError):
            os.kill(balancer.process.pid, signal.SIGHUP)  # nginx re-reads its files; open requests carry on

    def _route_ready_again(self) -> None:
        balancer = self._balancer()
        if balancer is None or not balancer.member.routing_down:
            return
        for run in self.running.values():
            if run.member.port in balancer.member.routing_down and run.process.running():
                with contextlib.suppress(Exception):
                    if run.member.ready():
                        self._route(run.member.port, routed=True)

    def stop(self) -> list[str]:
        """Stop every member in reverse start order; the names stopped."""
        stopped = []
        for run in reversed(list(self.running.values())):
            with contextlib.suppress(Exception):
                run.process.stop(timeout=20)
            stopped.append(run.member.name)
        self.state_file.clear()
        return stopped


def stop_recorded(state_file: StateFile, wait_s: float = 90) -> list[str]:
    """Ask a recorded cluster's runner to stop (SIGTERM) and wait; stop directly what it left. Names stopped
    directly."""
    state = state_file.running()
    if not state:
        return []
    runner = state.get("runner_pid")
    if runner and runner != os.getpid():
        with contextlib.suppress(ProcessLookupError):
            os.kill(runner, 15)
        deadline = time.monotonic() + wait_s
        while state_file.read() and pid_alive(runner) and time.monotonic() < deadline:
            time.sleep(0.2)
    left = [name for name, m in reversed(list(state.get("members", {}).items())) if stop_pid(m["pid"])]
    state_file.clear()
    return left
