"""`python -m cluster run|status|stop`: `make run-cluster`, `make status-cluster`, `make stop-cluster`.

`run` starts the cluster (cluster/plan.py), prints its URLs, and watches it until Ctrl-C or `make stop-cluster`,
starting again any member that dies; then it stops every member by PID.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path

from cluster.members import Member
from cluster.plan import EVENT_QUEUE, cluster_plan
from cluster.prometheus_config import write_scrape_config
from cluster.runner import Cluster, StateFile, stop_recorded
from cluster.settings import ClusterSettings
from foundation import REPO
from foundation.processes import StartupError, port_in_use
from foundation.settings import SettingsError

STATE = REPO / "var" / "run" / "cluster.json"
ROOT = REPO / "var" / "cluster"


class _Stop(Exception):
    """Raised by the signal handler so every way out of `run` goes through the same cleanup."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def describe(state: dict) -> str:
    """One line per member: name, role, PID, address, metrics address, restarts, log."""
    lines = [f"  {'name':13s} {'role':10s} {'pid':>7s}  {'address':24s} {'metrics':16s} restarts  log"]
    for name, m in state["members"].items():
        metrics = m.get("metrics") or "-"
        lines.append(
            f"  {name:13s} {m['role']:10s} {m['pid']:7d}  {m['url']:24s} {metrics:16s} {m['restarts']:8d}  {m['log']}"
        )
    return "\n".join(lines)


def run(settings: ClusterSettings, state_file: StateFile, root: Path, log_dir: Path) -> int:
    running = state_file.running()
    if running:
        print(f"The cluster is already running (runner pid {running['runner_pid']}):\n{describe(running)}")
        return 0
    if not Path(settings.model).exists():
        print(f"error: no trained model at {settings.model}; run `make train`.", file=sys.stderr)
        return 2
    try:
        members = cluster_plan(settings, root)
    except RuntimeError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    busy = [m for m in members if port_in_use("127.0.0.1", m.port)]
    if busy:
        for member in busy:
            print(
                f"error: port {member.port} for {member.name} is taken; choose other ports with CLUSTER_PORT and "
                "CLUSTER_INTERNAL_PORT (see .env.example).",
                file=sys.stderr,
            )
        return 2
    shutil.rmtree(root, ignore_errors=True)  # a fresh cluster: empty databases, queues and locks
    scrape_file = write_scrape_config(members, root / "prometheus.yml")  # for a Prometheus of the operator's
    summary = {
        "url": settings.url,
        "webhook": f"{settings.url}/webhooks/rest/webhook",
        "postgres_port": settings.internal("postgres"),
        "rabbitmq_port": settings.internal("rabbitmq"),
        "event_queue": EVENT_QUEUE,
        "report_url": f"http://127.0.0.1:{settings.internal('analytics')}/report",
        "fault_gates": settings.fault_gates,
        "prometheus_config": str(scrape_file),
    }
    cluster = Cluster(members, state_file, log_dir, summary)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)

    def ready(member: Member, seconds: float) -> None:
        print(f"  ✓ {member.name:13s} {member.url:24s} ready in {seconds:5.1f} s", flush=True)

    def restarted(member: Member, code: int | None) -> None:
        print(f"  ! {member.name} exited (code {code}); starting it again", flush=True)

    try:
        print(
            f"Starting the cluster: {settings.rasa_replicas} Rasa replicas, {settings.action_servers} action "
            f"servers (logs in {log_dir}/) …",
            flush=True,
        )
        cluster.start(ready)
        print(
            f"\nThe assistant, through nginx:  {summary['webhook']}\n"
            f"Health:                        {settings.url}/health\n"
            f"Event broker:                  amqp://127.0.0.1:{summary['rabbitmq_port']} queue {EVENT_QUEUE}\n"
            f"Prometheus scrape config:      {scrape_file}\n"
            f"Analytics report (operators):  {summary['report_url']} (any user name, the password is in "
            "var/secrets/REPORT_TOKEN or $REPORT_TOKEN)\n"
            "Processes: make status-cluster  ·  stop with Ctrl-C or, from another terminal, make stop-cluster.",
            flush=True,
        )
        while True:
            cluster.restart_dead(restarted)
            time.sleep(0.5)
    except StartupError as problem:
        print(f"\nerror: {problem}", file=sys.stderr)
        return 1
    except (_Stop, KeyboardInterrupt):
        print("\nStopping the cluster …", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped = cluster.stop()
        if stopped:
            print("Stopped: " + ", ".join(stopped) + ".", flush=True)


def status(state_file: StateFile, quiet: bool) -> int:
    state = state_file.running()
    if not state:
        if not quiet:
            print("The cluster is not running.")
        return 3
    ready = "ready" if state.get("ready") else "starting"
    print(
        f"The cluster is running ({ready}; runner pid {state['runner_pid']}), at {state['webhook']}:\n{describe(state)}"
    )
    return 0


def stop(state_file: StateFile, quiet: bool) -> int:
    if not state_file.running():
        if not quiet:
            print("The cluster is not running (nothing to stop).")
        return 0
    left = stop_recorded(state_file)
    print("Stopped the cluster" + (f" (had to stop {', '.join(left)} directly)" if left else "") + ".")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "status", "stop"))
    parser.add_argument("--state-file", type=Path, default=STATE, help="default: var/run/cluster.json")
    parser.add_argument("--root", type=Path, default=ROOT, help="data, config and sockets (default: var/cluster)")
    parser.add_argument("--log-dir", type=Path, default=REPO / "logs" / "cluster", help="one log per process")
    parser.add_argument("--quiet", action="store_true", help="status/stop: say nothing when it is not running")
    args = parser.parse_args(argv)
    state_file = StateFile(args.state_file)
    if args.command == "status":
        return status(state_file, args.quiet)
    if args.command == "stop":
        return stop(state_file, args.quiet)
    try:
        settings = ClusterSettings.from_env()
    except SettingsError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return run(settings, state_file, args.root, args.log_dir)


if __name__ == "__main__":
    sys.exit(main())
