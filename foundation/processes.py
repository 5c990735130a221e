"""Start a child process, wait until it is ready (its health URL answers), and stop it by PID.

One helper for everything that starts our services: the launcher (`make run`), the tests' real servers and the
benchmarks. Each child runs in its own session (process group), so stopping it by PID stops whatever it started
too, and a Ctrl-C in the terminal reaches only the parent, which stops its children in order.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import requests

from foundation import REPO
from foundation.logging import ChildOutput


class StartupError(RuntimeError):
    """A child process exited while starting, or was not ready in time; the message says which and shows its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now, for a server started next (tests, benchmarks)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts connections on host:port (so a server started there would fail).

    A connection to a free port of the ephemeral range can succeed with nothing listening: the kernel may give
    the probe that very port as its source, and the socket connects to itself (TCP simultaneous open). Such a
    connection does not count.
    """
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) != 0:
            return False
        return probe.getsockname() != probe.getpeername()


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


def stop_pid(pid: int, timeout: float = 20.0) -> bool:
    """SIGTERM the process group led by `pid`, SIGKILL it after `timeout` seconds; True if it was running.

    Works from another process too (`make stop` stops what `make run` started).
    """
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


def http_ready(
    url: str, headers: dict[str, str] | None = None, json_key: str | None = None, timeout: float = 2.0
) -> bool:
    """True when `url` answers 200 (and, with `json_key`, a JSON object whose value there is not empty)."""
    try:
        answer = requests.get(url, headers=headers or {}, timeout=timeout)
    except requests.RequestException:
        return False
    if answer.status_code != 200:
        return False
    if not json_key:
        return True
    try:
        body = answer.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get(json_key))


class ChildProcess:
    """A process we started: its PID, its log file, waiting until it is ready, stopping it (and its children).

    Output goes to `log_path` (nowhere without one). With `json_source`, the output is piped and every line that
    is not a JSON object is wrapped into one logged by that name (foundation.logging.ChildOutput: a printed traceback
    is one record), so the log file stays JSON lines whatever native code prints.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path | None = None,
        *,
        json_source: str | None = None,
    ):
        self.name = name
        self.command = command
        self.log_path = log_path
        self.started_at = time.monotonic()
        self._log: IO[bytes] | int = subprocess.DEVNULL
        if log_path:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "ab")  # noqa: SIM115  (the child writes to it until stop() closes it)
        self.proc = subprocess.Popen(
            command,
            cwd=str(cwd or REPO),
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if json_source else self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop_pid ends its children too
        )
        self._pump: threading.Thread | None = None
        if json_source:
            self._pump = threading.Thread(
                target=self._copy_output, args=(json_source,), name=f"log-{name}", daemon=True
            )
            self._pump.start()

    def _copy_output(self, source: str) -> None:
        stdout = self.proc.stdout
        assert stdout is not None  # piped: only a child with a json_source runs this
        output = ChildOutput(source)  # a traceback it prints becomes one record
        for raw in itertools.chain(iter(stdout.readline, b""), [None]):  # None: the end, a traceback left open
            lines = output.close() if raw is None else output.feed(raw) if raw.strip() else []
            if lines and not isinstance(self._log, int):
                try:
                    self._log.writelines(lines)
                    self._log.flush()
                except ValueError:  # closed by stop() while a grandchild still held the pipe
                    return

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def exited(self) -> int | None:
        """The exit code once the process has ended, None while it runs."""
        return self.proc.poll()

    def wait_until(
        self,
        ready: Callable[[], object],
        timeout: float = 60.0,
        *,
        condition: str = "ready",
        on_wait: Callable[[float], None] = lambda elapsed: None,
        interval: float = 0.1,
    ) -> float:
        """Seconds until `ready()` returned something true (an exception in it counts as not yet).

        StartupError if the process exits first, or if it is not ready within `timeout` seconds (then it is
        stopped: nothing half-started is left behind). `on_wait(elapsed)` is called between tries.
        """
        while True:
            elapsed = time.monotonic() - self.started_at
            if not self.running():
                raise StartupError(
                    f"the {self.name} exited with code {self.proc.returncode} while starting; {self._last_lines()}"
                )
            try:
                if ready():
                    return elapsed
            except Exception:  # a server still starting may answer anything
                pass
            if elapsed > timeout:
                self.stop()
                raise StartupError(f"the {self.name} was not {condition} within {timeout:.0f} s; {self._last_lines()}")
            on_wait(elapsed)
            time.sleep(interval)

    def wait_http(
        self,
        url: str,
        timeout: float = 60.0,
        *,
        headers: dict[str, str] | None = None,
        json_key: str | None = None,
        on_wait: Callable[[float], None] = lambda elapsed: None,
        interval: float = 0.1,
    ) -> float:
        """Seconds until its health URL answers 200 (see `http_ready`); StartupError as `wait_until`."""
        return self.wait_until(
            lambda: http_ready(url, headers, json_key),
            timeout,
            condition=f"answering {url}",
            on_wait=on_wait,
            interval=interval,
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM its process group, SIGKILL after `timeout` seconds; safe to call more than once."""
        stop_pid(self.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self._pump:
            self._pump.join(timeout=5)
        if not isinstance(self._log, int):
            self._log.close()
            self._log = subprocess.DEVNULL

    def tail(self, lines: int = 20) -> str:
        """The last lines of its log, for an error message."""
        if self.log_path is None:
            return "(no log)"
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _last_lines(self) -> str:
        return f"last lines of {self.log_path}:\n{self.tail()}" if self.log_path else "its output was not kept"
