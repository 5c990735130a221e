"""`python -m cluster.scale`: msg/s and p95 through the cluster's nginx with 1 and 2 Rasa replicas in one run,
the cost per replica, and the replicas 10,000 concurrent conversations need (docs/performance.md#scale-out).

Each replica count gets its own cluster (`python -m cluster run` on free loopback ports); the serving
benchmark's conversations (bench/conversations.yml) are replayed through nginx at each concurrency level, a fixed
number per level, after a warm-up. CPU and memory are those of the Rasa replicas' process trees.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from actions import customer_token
from bench import conversations as scripts
from bench.loadgen import run_level_sync, warm_up
from bench.sampler import cpu_seconds, rss_by_root
from bench.stats import load_from_conversations, replicas_needed, summarize_latencies
from cluster.runner import StateFile, stop_recorded
from foundation import REPO
from foundation.local_secrets import local_secret
from foundation.processes import ChildProcess, free_port, port_in_use

TARGET_CONVERSATIONS = 10_000
SECONDS_BETWEEN_MESSAGES = 10.0  # a shopper's pace, as in the serving benchmark's capacity plan
HEADROOM = 0.7


def _free_base(span: int = 80) -> int:
    import random

    for _ in range(50):
        base = random.randrange(20000, 32000 - span)
        if not any(port_in_use("127.0.0.1", base + offset) for offset in range(span)):
            return base
    raise RuntimeError("no free range of ports")


def unguessable(plan: list[scripts.Conversation]) -> list[scripts.Conversation]:
    """The same conversations under senders the REST channel admits without a session token (channels/sessions.py)."""
    for conversation in plan:
        conversation.sender = secrets.token_urlsafe(24)
    return plan


def measure(replicas: int, levels: list[int], per_level: int, root: Path) -> dict:
    """One cluster with `replicas` Rasa replicas: each level's msg/s, latencies, and the replicas' CPU and memory."""
    state_file = StateFile(root / f"cluster-{replicas}.json")
    env = {
        "CLUSTER_PORT": str(free_port()),
        "CLUSTER_INTERNAL_PORT": str(_free_base()),
        "CLUSTER_RASA_REPLICAS": str(replicas),
        "CLUSTER_ACTION_SERVERS": "2",
        "RATE_LIMITS": "off",  # one client address sending as fast as it can
    }
    command = [sys.executable, "-m", "cluster", "run", "--state-file", str(state_file.path)]
    command += ["--root", str(root / f"data-{replicas}"), "--log-dir", str(root / f"logs-{replicas}")]
    runner = ChildProcess(f"cluster of {replicas}", command, env, root / f"runner-{replicas}.log")
    try:
        runner.wait_until(lambda: (state_file.read() or {}).get("ready"), 900, condition="ready", interval=1)
        state = state_file.read() or {}
        url = state["url"]
        rasa = [m["pid"] for m in state["members"].values() if m["role"] == "rasa"]
        secret = local_secret("CUSTOMER_TOKEN_SECRET")
        library = scripts.load()["larkspur"]

        def issue(customer: str) -> str:
            return customer_token.issue(customer, secret=secret)

        warm = unguessable(scripts.plan(library, 6, seed=1, prefix=f"scale{replicas}-warm"))
        scripts.attach_tokens(warm, issue)
        warm_up([url], warm)
        out: dict = {"replicas": replicas, "idle_rss_mb": [round(v / 2**20) for v in rss_by_root(rasa).values()]}
        out["levels"] = []
        for concurrency in levels:
            plan = unguessable(scripts.plan(library, max(per_level, 2 * concurrency), seed=concurrency))
            scripts.attach_tokens(plan, issue)
            cpu_before = cpu_seconds(rasa)
            result = run_level_sync([url], plan, concurrency)
            cpu = cpu_seconds(rasa) - cpu_before
            latencies = summarize_latencies(result.latencies_s)
            out["levels"].append(
                {
                    "concurrency": concurrency,
                    "messages": result.messages,
                    "errors": result.errors,
                    "msgs_per_s": round(result.messages_per_s, 1),
                    "p50_ms": latencies["p50_ms"],
                    "p95_ms": latencies["p95_ms"],
                    "rasa_cpu_cores": round(cpu / result.wall_s, 2) if result.wall_s else None,
                    "rasa_cpu_ms_per_msg": round(1000 * cpu / result.messages, 1) if result.messages else None,
                }
            )
            print(f"  {replicas} replica(s), {concurrency} conversations: {out['levels'][-1]}", flush=True)
        out["busy_rss_mb"] = [round(v / 2**20) for v in rss_by_root(rasa).values()]
        return out
    finally:
        stop_recorded(state_file)
        runner.stop(timeout=60)


def capacity(runs: list[dict]) -> dict:
    """Replicas for 10,000 conversations from the measured CPU per message (one core per replica, 70% busy)."""
    per_msg = [lvl["rasa_cpu_ms_per_msg"] for run in runs for lvl in run["levels"] if lvl["rasa_cpu_ms_per_msg"]]
    cpu_ms = max(per_msg)  # the dearest level measured: the plan must hold under load, not at its cheapest
    target = load_from_conversations(TARGET_CONVERSATIONS, SECONDS_BETWEEN_MESSAGES)
    rss = max(v for run in runs for v in run["busy_rss_mb"])
    needed = replicas_needed(target, 1000.0 / cpu_ms, headroom=HEADROOM)
    return {
        "conversations": TARGET_CONVERSATIONS,
        "seconds_between_messages": SECONDS_BETWEEN_MESSAGES,
        "target_msgs_per_s": target,
        "rasa_cpu_ms_per_msg": cpu_ms,
        "rasa_replicas": needed,
        "memory_gb": round(needed * rss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", default="1,2", help="replica counts, one cluster each (default 1,2)")
    parser.add_argument("--levels", default="8,32", help="concurrent conversations per level (default 8,32)")
    parser.add_argument("--per-level", type=int, default=48, help="conversations per level (at least 2x its level)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "cluster-scale.json")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    root = Path(tempfile.mkdtemp(prefix="larkspur-scale-"))
    os.chmod(root, 0o755)  # PostgreSQL runs as `postgres` and needs to reach its data directory in here
    started = time.monotonic()
    runs = [measure(int(n), levels, args.per_level, root) for n in args.replicas.split(",")]
    result = {
        "cores": os.cpu_count(),
        "runs": runs,
        "capacity": capacity(runs),
        "wall_s": round(time.monotonic() - started),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["capacity"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
