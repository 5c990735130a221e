"""`python -m launcher run|stop|status`: the assistant's whole stack on embedded defaults, as `make run`.

`run` starts the demo shop, the action server, the Rasa server, the web widget and the analytics consumer with
its report page, waits until each answers
its health check, prints the URLs and watches them until Ctrl-C (or `make stop`), then stops everything it
started by PID. Each process logs JSON lines to `logs/<name>.log`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation.processes import StartupError, port_in_use, stop_pid
from foundation.settings import SettingsError
from launcher.services import REPO, StackSettings, stack_plan
from launcher.supervisor import ManagedProcess, StateFile, stop_all


class _Stop(Exception):
    """Raised by the signal handler so that every path out of `run` goes through the same cleanup."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _progress(title: str) -> Callable[[float], None]:
    interactive = sys.stdout.isatty()
    last = [-10.0]

    def show(elapsed: float) -> None:
        if interactive:
            print(f"\r  … waiting for the {title} ({elapsed:4.0f} s)", end="", flush=True)
        elif elapsed - last[0] >= 10:
            last[0] = elapsed
            print(f"  … waiting for the {title} ({elapsed:.0f} s)", flush=True)

    return show


def _describe(state: dict) -> str:
    lines = [
        f"  {name:9s} {svc['url']:28s} pid {svc['pid']:<7d} log {svc['log']}" for name, svc in state["services"].items()
    ]
    return "\n".join(lines)


def run(settings: StackSettings, state_file: StateFile, log_dir: Path) -> int:
    running = state_file.running()
    if running:
        print(
            f"The assistant is already running (launcher pid {running['launcher_pid']}):\n{_describe(running)}\n"
            f"Open {running['widget_url']}  ·  stop it with: make stop"
        )
        return 0
    if not settings.model.exists():
        print(
            f"error: no trained model at {settings.model}; `make run` trains one, or run `make train`.", file=sys.stderr
        )
        return 2
    plan = stack_plan(settings, state_file.path.parent)
    busy = [spec for spec in plan if port_in_use(spec.host, spec.port)]
    if busy:
        for spec in busy:
            print(
                f"error: port {spec.port} for the {spec.title} is taken by another program. Stop it, or choose "
                f"another port, e.g. `{spec.name.upper()}_PORT=<free port> make run`.",
                file=sys.stderr,
            )
        return 2

    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    processes: list[ManagedProcess] = []
    services: dict[str, dict[str, Any]] = {}
    state = {
        "launcher_pid": os.getpid(),
        "started_at": time.time(),
        "widget_url": settings.webchat_url,
        "services": services,
    }
    try:
        print(f"Starting the Larkspur assistant (logs in {log_dir}/) …")
        for spec in plan:
            process = ManagedProcess(spec, log_dir)
            processes.append(process)
            services[spec.name] = {"pid": process.pid, "url": spec.url, "log": str(process.log_path)}
            state_file.write(state)
        for process in processes:
            seconds = process.wait_healthy(_progress(process.spec.title))
            print(f"\r  ✓ {process.spec.title:15s} {process.spec.url:28s} ready in {seconds:4.1f} s", flush=True)
        print(
            f"\nChat with the assistant: {settings.webchat_url}\n"
            f"REST webhook:            {settings.rasa_url}/webhooks/rest/webhook\n"
            f"Demo shop API:           http://{settings.host}:{settings.demoshop_port}/v1 (make codes shows "
            f"one-time codes)\n"
            f"{_report_line(settings, services)}"
            f"Stop with Ctrl-C or, from another terminal, make stop.",
            flush=True,
        )
        while True:
            for process in processes:
                if process.exited() is not None:
                    print(
                        f"error: the {process.spec.title} stopped unexpectedly (exit code "
                        f"{process.proc.returncode}); stopping the rest. Last lines of {process.log_path}:\n"
                        f"{process.tail()}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(1)
    except StartupError as problem:
        print(f"\nerror: {problem}", file=sys.stderr)
        return 1
    except (_Stop, KeyboardInterrupt):
        print("\nStopping …", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(processes)
        state_file.clear()
        if processes:
            print("Stopped: " + ", ".join(p.spec.title for p in processes) + ".", flush=True)


def _report_line(settings: StackSettings, services: dict[str, dict[str, Any]]) -> str:
    """How to open the report page: its URL and where its token is (never the token itself: this is logged)."""
    if "analytics" not in services:
        return ""
    if os.environ.get("REPORT_TOKEN", "").strip():
        how = "the password is $REPORT_TOKEN"
    else:
        how = "the password is in var/secrets/REPORT_TOKEN"
    return f"Analytics report:        {settings.report_url} (operators only: any user name, {how})\n"


def stop(state_file: StateFile) -> int:
    state = state_file.running()
    if not state:
        print("The assistant is not running (nothing to stop).")
        return 0
    launcher_pid = state.get("launcher_pid")
    if launcher_pid and launcher_pid != os.getpid():
        with contextlib.suppress(ProcessLookupError):
            os.kill(launcher_pid, signal.SIGTERM)  # the launcher stops its children in order
        deadline = time.monotonic() + 60
        while state_file.read() and time.monotonic() < deadline:
            time.sleep(0.2)
    stopped = [name for name, svc in state["services"].items() if stop_pid(svc["pid"])]  # launcher gone or stuck
    state_file.clear()
    print("Stopped the assistant" + (f" (had to stop {', '.join(stopped)} directly)" if stopped else "") + ".")
    return 0


def status(state_file: StateFile) -> int:
    state = state_file.running()
    if not state:
        print("The assistant is not running.")
        return 3
    print(f"The assistant is running (launcher pid {state['launcher_pid']}):\n{_describe(state)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "stop", "status"), nargs="?", default="run")
    parser.add_argument(
        "--state-file",
        type=Path,
        default=REPO / "var" / "run" / "stack.json",
        help="where the running stack is recorded (default: var/run/stack.json)",
    )
    parser.add_argument("--log-dir", type=Path, default=REPO / "logs", help="one JSON log per process")
    args = parser.parse_args(argv)
    state_file = StateFile(args.state_file)
    if args.command == "stop":
        return stop(state_file)
    if args.command == "status":
        return status(state_file)
    try:
        settings = StackSettings.from_env()
    except SettingsError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return run(settings, state_file, args.log_dir)


if __name__ == "__main__":
    sys.exit(main())
