"""Turns the measurements of `bench.serve` into the result document, the target verdicts, a table and a plot.

Pure functions (no servers) so the schema and the verdicts are unit-tested: tests/unit/test_bench_report.py.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from bench.stats import per_core, percentile, ratio, replicas_needed

SCHEMA = "larkspur-bench-serve/1"
TARGET_LOAD_MSGS_PER_S = 1000.0  # 10,000 concurrent conversations, one message each 10 s
TARGETS = {
    "per_core_ratio_min": 4.0,  # ours / stock messages per second per core used
    "p95_one_conversation_ms": 25.0,  # plus the backend calls the turn makes
    "p95_32_conversations_ms": 300.0,  # with the replicas the machine's cores allow
    "startup_s": 20.0,
    "rss_mb_per_process": 600.0,
}
LEVEL_KEYS = {
    "concurrency",
    "conversations",
    "messages",
    "errors",
    "wall_s",
    "messages_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "rasa",
    "msgs_per_s_per_core",
}


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        import psutil

        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
    }


def level_entry(result, latency: dict, samples: dict, backend: dict | None = None) -> dict:
    """One concurrency level: throughput, latency, errors, and CPU/memory of the Rasa processes (and the rest)."""
    rasa = samples.get("rasa", {})
    entry = {
        "concurrency": result.concurrency,
        "conversations": result.conversations,
        "messages": result.messages,
        "errors": result.errors,
        "error_samples": result.error_samples,
        "wall_s": round(result.wall_s, 2),
        "messages_per_s": round(result.messages_per_s, 2),
        **latency,
        "rasa": rasa,
        "msgs_per_s_per_core": _round(per_core(result.messages_per_s, rasa.get("cores_used"))),
    }
    stack_cores = sum((v.get("cores_used") or 0) for v in samples.values())
    if len(samples) > 1:
        entry["others"] = {k: v for k, v in samples.items() if k != "rasa"}
        entry["stack_cores_used"] = round(stack_cores, 3)
        entry["msgs_per_s_per_stack_core"] = _round(per_core(result.messages_per_s, stack_cores))
    if backend is not None:
        entry["backend"] = backend
    slowest = sorted(((percentile(v, 50), k) for k, v in result.by_turn.items() if v), reverse=True)[:6]
    entry["slowest_turns_p50_ms"] = {k: round(v * 1000, 1) for v, k in slowest}
    return entry


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def best_per_core(levels: list[dict], key: str = "msgs_per_s_per_core") -> float | None:
    """Capacity per core: the best per-core throughput over the levels (the busiest level, usually)."""
    values = [lvl[key] for lvl in levels if lvl.get(key) and lvl["errors"] <= 0.01 * max(1, lvl["messages"])]
    return max(values) if values else None


def level(levels: list[dict], concurrency: int) -> dict | None:
    return next((lvl for lvl in levels if lvl["concurrency"] == concurrency), None)


def verdicts(ours: dict, stock: dict | None) -> list[dict]:
    """Each target with its measured figure and PASS/MISS (or N/A when the run did not measure it)."""
    out: list[dict] = []

    def add(
        name: str, measured: float | None, limit: float, unit: str, higher_is_better: bool = False, note: str = ""
    ) -> None:
        if measured is None:
            verdict = "N/A"
        else:
            verdict = "PASS" if (measured >= limit if higher_is_better else measured <= limit) else "MISS"
        out.append(
            {"target": name, "measured": measured, "limit": limit, "unit": unit, "verdict": verdict, "note": note}
        )

    ours_core = best_per_core(ours["levels"])
    stock_core = best_per_core(stock["levels"]) if stock else None
    add(
        "messages/s per core, ours / stock",
        ratio(ours_core, stock_core),
        TARGETS["per_core_ratio_min"],
        "x",
        higher_is_better=True,
        note=f"ours {ours_core} vs stock {stock_core} msg/s per Rasa core",
    )
    one = level(ours["levels"], 1)
    own = (one or {}).get("own_time")
    if own:  # each turn less its own backend time (bench.serve.own_time)
        add(
            "p95 at 1 conversation",
            own["p95_ms"],
            TARGETS["p95_one_conversation_ms"],
            "ms",
            note=f"p95 of each turn's latency less that turn's own backend calls; raw p95 {own['raw_p95_ms']} ms, "
            f"{own['turns_with_backend_calls']} of {own['turns']} turns call backends, "
            f"{own['backend_ms_per_such_turn']} ms each on average",
        )
    else:  # no per-turn figures (a stack without action-server metrics): the average allowance
        backend_ms = (one or {}).get("backend", {}).get("ms_per_backend_turn") or 0.0
        limit_one = round(TARGETS["p95_one_conversation_ms"] + backend_ms, 1)
        add(
            "p95 at 1 conversation",
            one and one["p95_ms"],
            limit_one,
            "ms",
            note=f"25 ms + {backend_ms} ms of backend calls per custom action (no per-turn figures)",
        )
    l32 = level(ours["levels"], 32)
    add(
        "p95 at 32 conversations",
        l32 and l32["p95_ms"],
        TARGETS["p95_32_conversations_ms"],
        "ms",
        note=f"{len(ours.get('startup_s', []))} Rasa replicas",
    )
    add(
        "start-up (process start to /status with a model)",
        max(ours["startup_s"]) if ours.get("startup_s") else None,
        TARGETS["startup_s"],
        "s",
    )
    rss = [mb for lvl in ours["levels"] for mb in lvl["rasa"].get("peak_rss_mb_per_process", [])]
    add("resident memory per Rasa process (peak)", max(rss) if rss else None, TARGETS["rss_mb_per_process"], "MB")
    return out


def capacity(ours: dict) -> dict:
    """Replicas (one core each, planned at 70% CPU) for 10,000 conversations sending one message each 10 s."""
    rasa_core = best_per_core(ours["levels"])
    stack_core = best_per_core(ours["levels"], "msgs_per_s_per_stack_core")
    out = {
        "target_msgs_per_s": TARGET_LOAD_MSGS_PER_S,
        "conversations": 10000,
        "seconds_between_messages": 10,
        "headroom": 0.7,
        "rasa_msgs_per_s_per_core": rasa_core,
        "stack_msgs_per_s_per_core": stack_core,
    }
    if rasa_core:
        out["rasa_replicas"] = replicas_needed(TARGET_LOAD_MSGS_PER_S, rasa_core)
    if stack_core:
        out["cores_whole_stack"] = replicas_needed(TARGET_LOAD_MSGS_PER_S, stack_core)
    return out


def validate(document: dict) -> None:
    """Raise ValueError when the result document lacks what readers (docs/performance.md, CI, the plot) rely on."""
    if document.get("schema") != SCHEMA:
        raise ValueError(f"schema must be {SCHEMA!r}")
    for key in ("machine", "settings", "assistants", "targets", "capacity", "provisional"):
        if key not in document:
            raise ValueError(f"missing {key!r}")
    if "larkspur" not in document["assistants"]:
        raise ValueError("missing assistants.larkspur")
    for name, assistant in document["assistants"].items():
        for key in ("levels", "startup_s", "replicas"):
            if key not in assistant:
                raise ValueError(f"assistants.{name} lacks {key!r}")
        for lvl in assistant["levels"]:
            missing = LEVEL_KEYS - set(lvl)
            if missing:
                raise ValueError(f"assistants.{name} level {lvl.get('concurrency')} lacks {sorted(missing)}")
    for target in document["targets"]:
        if target.get("verdict") not in {"PASS", "MISS", "N/A"}:
            raise ValueError(f"bad verdict in {target}")


def table(document: dict) -> str:
    lines = [
        f"{'assistant':<9} {'conc':>4} {'msgs':>5} {'err':>4} {'msg/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'rasa cores':>10} {'msg/s/core':>10} {'rss MB':>12}"
    ]
    for name, assistant in document["assistants"].items():
        for lvl in assistant["levels"]:
            rss = "/".join(f"{mb:.0f}" for mb in lvl["rasa"].get("peak_rss_mb_per_process", []))
            lines.append(
                f"{name:<9} {lvl['concurrency']:>4} {lvl['messages']:>5} {lvl['errors']:>4} "
                f"{lvl['messages_per_s']:>7.1f} {_fmt(lvl['p50_ms'])} {_fmt(lvl['p95_ms'])} "
                f"{_fmt(lvl['p99_ms'])} {_fmt(lvl['rasa'].get('cores_used'), 10, 2)} "
                f"{_fmt(lvl['msgs_per_s_per_core'], 10)} {rss:>12}"
            )
    ours, stock = document["assistants"]["larkspur"], document["assistants"].get("stock")
    if stock:
        lines.append(
            "ratio ours/stock per level (msg/s, p95): "
            + ", ".join(
                f"{o['concurrency']}: {ratio(o['messages_per_s'], s['messages_per_s'])}x, "
                f"{ratio(o['p95_ms'], s['p95_ms'])}x"
                for o in ours["levels"]
                for s in stock["levels"]
                if o["concurrency"] == s["concurrency"]
            )
        )
    for name, assistant in document["assistants"].items():
        floor = assistant.get("floor") or {}
        if floor.get("floor_p50_ms") is not None:
            lines.append(
                f"{name}: floor (in-process NLU {floor['parse_ms']['p50_ms']} ms + 2 x policy "
                f"{floor['predict_ms']['p50_ms']} ms) = {floor['floor_p50_ms']} ms p50; the rest of a turn "
                f"at 1 conversation: {assistant.get('rest_share_at_1')}"
            )
        lines.append(
            f"{name}: start-up {assistant['startup_s']} s, idle RSS {assistant.get('idle_rss_mb')} MB per Rasa process"
        )
    lines.append("targets (provisional: shared, noisy machine):")
    for t in document["targets"]:
        lines.append(
            f"  {t['verdict']:<4} {t['target']}: {t['measured']} {t['unit']} (limit {t['limit']} {t['unit']})"
            + (f"  [{t['note']}]" if t.get("note") else "")
        )
    cap = document["capacity"]
    lines.append(
        f"10,000 conversations (1,000 msg/s) at 70% CPU: {cap.get('rasa_replicas')} one-core Rasa replicas "
        f"({cap.get('rasa_msgs_per_s_per_core')} msg/s per core); whole stack incl. action server, shop, "
        f"PostgreSQL, Redis: {cap.get('cores_whole_stack')} cores"
    )
    return "\n".join(lines)


def _fmt(value, width: int = 7, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def plot(document: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = {"larkspur": "tab:purple", "stock": "tab:grey"}
    for name, assistant in document["assistants"].items():
        levels = [lvl for lvl in assistant["levels"] if lvl["p50_ms"] is not None]
        x = [lvl["messages_per_s"] for lvl in levels]
        label = "Larkspur" if name == "larkspur" else "stock starter (rasa init)"
        label += f", {assistant['replicas']} replica{'s' if assistant['replicas'] > 1 else ''}"
        ax.plot(x, [lvl["p50_ms"] for lvl in levels], "o-", color=colours.get(name), label=f"{label}: p50")
        ax.plot(x, [lvl["p95_ms"] for lvl in levels], "s--", color=colours.get(name), label=f"{label}: p95")
        for lvl in levels:
            ax.annotate(
                str(lvl["concurrency"]),
                (lvl["messages_per_s"], lvl["p95_ms"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    ax.set_yscale("log")
    ax.set_xlabel("throughput (messages/s)")
    ax.set_ylabel("turn latency (ms, log)")
    ax.set_title(
        "REST turn latency vs throughput (labels: concurrent conversations)\nprovisional: shared 2-core machine"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(document: dict, json_path: Path) -> None:
    validate(document)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=2) + "\n")
