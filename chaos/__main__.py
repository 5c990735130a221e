"""`python -m chaos` (`make chaos`): start a cluster with fault gates, inject each fault under load, print the table.

The cluster is its own (`python -m cluster run` on free loopback ports, state in var/chaos/), so a `make
run-cluster` already running is left alone. Rows go to stdout and results/chaos.json; the exit code is 1 when a
fault missed a target (docs/reliability.md#targets).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

from pydantic import Field, confloat, conint

from bench.conversations import load as load_scripts
from chaos.checks import cancellable_orders
from chaos.faults import all_faults
from chaos.load import checked_webhook
from chaos.run import Budget, Row, drive_fault, table
from cluster.runner import StateFile, stop_recorded
from cluster.settings import OFFSETS
from foundation import REPO
from foundation.local_secrets import local_secret
from foundation.processes import ChildProcess, free_port, port_in_use
from foundation.settings import ProcessSettings

FULL = (
    "rasa-kill,actions-kill,actions-all-kill,postgres-restart,redis-restart,rabbitmq-restart,"
    "shop-down,shop-slow,shop-garbage,actions-latency"
)


class ChaosSettings(ProcessSettings):
    """How long, how hard and with which faults `make chaos` runs (see .env.example, "chaos")."""

    faults: str = Field(FULL, env="CHAOS_FAULTS")
    before_s: confloat(ge=1) = Field(5, env="CHAOS_BEFORE_SECONDS")  # type: ignore[valid-type]
    fault_s: confloat(ge=2) = Field(20, env="CHAOS_FAULT_SECONDS")  # type: ignore[valid-type]
    after_s: confloat(ge=2) = Field(15, env="CHAOS_AFTER_SECONDS")  # type: ignore[valid-type]
    shoppers: conint(ge=1, le=64) = Field(4, env="CHAOS_SHOPPERS")  # type: ignore[valid-type]
    rasa_replicas: conint(ge=2, le=8) = Field(2, env="CHAOS_RASA_REPLICAS")  # type: ignore[valid-type]
    action_servers: conint(ge=2, le=8) = Field(2, env="CHAOS_ACTION_SERVERS")  # type: ignore[valid-type]


def free_internal_base(span: int = max(OFFSETS.values()) + 20) -> int:
    """A base port above which every internal port of a cluster is free right now; below Linux's ephemeral range
    (32768 up), so no outgoing connection takes one of them between this check and the start."""
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(20000, 32000 - span)
        if not any(port_in_use("127.0.0.1", base + offset) for offset in range(span)):
            return base
    raise RuntimeError("found no free range of ports for the chaos cluster")


def start_cluster(settings: ChaosSettings, root: Path, log_dir: Path, state_file: StateFile) -> ChildProcess:
    """`python -m cluster run` with fault gates, on free ports; returns once its state file says ready."""
    env = {
        "CLUSTER_PORT": str(free_port()),
        "CLUSTER_INTERNAL_PORT": str(free_internal_base()),
        "CLUSTER_RASA_REPLICAS": str(settings.rasa_replicas),
        "CLUSTER_ACTION_SERVERS": str(settings.action_servers),
        "CLUSTER_FAULT_GATES": "on",
        "RATE_LIMITS": "off",  # one client address sending steadily: the abuse limits would answer 429
    }
    command = [
        sys.executable,
        "-m",
        "cluster",
        "run",
        "--state-file",
        str(state_file.path),
        "--root",
        str(root),
        "--log-dir",
        str(log_dir),
    ]
    runner = ChildProcess("chaos cluster", command, env, log_dir / "runner.log")
    runner.wait_until(lambda: (state_file.read() or {}).get("ready"), 900, condition="ready", interval=1)
    return runner


async def run_faults(settings: ChaosSettings, state_file: StateFile, names: list[str]) -> list[Row]:
    """Each named fault in turn, with a fresh cancellable order for each."""
    state = state_file.read() or {}
    faults = {fault.name: fault for fault in all_faults(state)}
    unknown = [name for name in names if name not in faults]
    if unknown:
        raise SystemExit(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(faults)}")
    shop = f"http://127.0.0.1:{state['members']['demoshop']['port']}"
    orders = cancellable_orders(shop, local_secret("DEMOSHOP_API_KEY"))
    webhook = checked_webhook(state["url"])
    scripts = load_scripts()["larkspur"]
    budget = Budget(settings.before_s, settings.fault_s, settings.after_s, settings.shoppers)
    rows = []
    for index, name in enumerate(names):
        order = orders[index] if index < len(orders) else None
        print(f"  fault {index + 1}/{len(names)}: {faults[name].title} …", flush=True)
        row = await drive_fault(
            faults[name],
            state_file.read,
            webhook,
            scripts,
            local_secret("CUSTOMER_TOKEN_SECRET"),
            order,
            budget,
            index * 101,
        )
        print(
            f"    sent {row.sent}, unanswered {row.unanswered}, apologies {row.apologies}, events lost "
            f"{row.events_lost}, duplicates {row.duplicate_mutations}, recovered in {row.recovery_s:.1f} s",
            flush=True,
        )
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--faults", help="comma-separated fault names (default: CHAOS_FAULTS, else all)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "chaos.json")
    parser.add_argument("--root", type=Path, default=REPO / "var" / "chaos")
    parser.add_argument("--log-dir", type=Path, default=REPO / "logs" / "chaos")
    args = parser.parse_args(argv)
    settings = ChaosSettings.from_env()
    names = [n.strip() for n in (args.faults or settings.faults).split(",") if n.strip()]
    state_file = StateFile(args.root / "cluster.json")
    stop_recorded(state_file)  # a chaos cluster a killed run left behind
    print(
        f"Starting a cluster for the chaos run ({settings.rasa_replicas} Rasa replicas; logs in {args.log_dir}/) …",
        flush=True,
    )
    started = time.monotonic()
    runner = start_cluster(settings, args.root / "cluster", args.log_dir, state_file)
    try:
        print(f"  ready in {time.monotonic() - started:.0f} s", flush=True)
        rows = asyncio.run(run_faults(settings, state_file, names))
    finally:
        stop_recorded(state_file)
        runner.stop(timeout=60)
    report = table(rows)
    print("\n" + report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    budget = {
        k: getattr(settings, k)
        for k in ("before_s", "fault_s", "after_s", "shoppers", "rasa_replicas", "action_servers")
    }
    args.out.write_text(
        json.dumps({"cores": os.cpu_count(), "budget": budget, "rows": [r.as_dict() for r in rows]}, indent=2)
    )
    print(f"\n(rows in {args.out})")
    return 0 if all(r.meets_targets for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
