"""`make bench-serve`: how many messages the served assistant answers, how fast, at what CPU and memory cost.

Same run, same machine, same load generator: our stack (N Rasa replicas sharing PostgreSQL + Redis, action
server, demo shop) and Rasa's stock starter assistant, so the ours/stock ratios hold on a noisy machine.
Then the in-process floor (NLU + policy alone) of both models. Writes results/bench-serve.json and .png.

Options (environment, or the make variables of the same name): BENCH_LEVELS (1,8,32,128),
BENCH_CONVERSATIONS (conversations per level, at least 2 x the level; 48), BENCH_REPLICAS (the cores),
BENCH_SKIP_STOCK=1, BENCH_SKIP_FLOOR=1, BENCH_WARMUP (conversations before measuring; 6),
BENCH_STORE_IO_THREADS (the stores' `io_threads`; 0 waits on the event loop, as before issue 16),
BENCH_PROFILE=<level> (py-spy samples Rasa replica 0, the action server and the demo shop during that
level: results/bench-serve-profile-*.txt, collapsed stacks, summarised by `python -m bench.profile`),
BENCH_LONG_TURNS (the long-conversation case's turns, bench/long_conversation.py; 300, 0 skips it:
results/bench-serve-long.png).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import Field, conint, validator

from bench import conversations as scripts
from bench import long_conversation, report
from bench.loadgen import run_level_sync, warm_up
from bench.sampler import Sampler, rss_by_root
from bench.stacks import TOKEN_SECRET, Deployment, scrape, start_ours, start_stock, stock_project
from bench.stats import parse_levels, summarize_latencies
from foundation import REPO
from foundation.settings import ProcessSettings, SettingsError
from launcher.tuning import rasa_env

MODEL = REPO / "models" / "larkspur.tar.gz"
RESULTS = REPO / "results"
CACHE = REPO / "var" / "bench"


class ServeBenchSettings(ProcessSettings):
    """The serving benchmark's variables (or the make variables of the same name): the defaults of its options."""

    levels: str = Field("1,8,32,128", env="BENCH_LEVELS")
    conversations: conint(ge=1) = Field(48, env="BENCH_CONVERSATIONS")
    replicas: conint(ge=1) = Field(default_factory=lambda: os.cpu_count() or 1, env="BENCH_REPLICAS")
    warmup: conint(ge=0) = Field(6, env="BENCH_WARMUP")
    skip_stock: bool = Field(False, env="BENCH_SKIP_STOCK")
    skip_floor: bool = Field(False, env="BENCH_SKIP_FLOOR")
    floor_rounds: conint(ge=1) = Field(10, env="BENCH_FLOOR_ROUNDS")
    profile: conint(ge=0) = Field(0, env="BENCH_PROFILE")  # 0: no profile
    store_io_threads: conint(ge=0) | None = Field(None, env="BENCH_STORE_IO_THREADS")  # None: the stores' default
    shop_threads: conint(ge=1) = Field(16, env="DEMOSHOP_THREADS")  # the benchmark's demo shop, under load
    long_turns: conint(ge=0) = Field(300, env="BENCH_LONG_TURNS")  # the long-conversation case; 0: skipped

    @validator("levels")
    def _levels(cls, value: str) -> str:
        parse_levels(value)  # ValueError names what is wrong
        return value


def backend_delta(before: dict[str, float], after: dict[str, float], messages: int) -> dict:
    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    backend_s, calls = delta("assistant_backend_request_seconds_sum"), delta("assistant_backend_request_seconds_count")
    action_s, actions = delta("assistant_action_seconds_sum"), delta("assistant_action_seconds_count")
    return {
        "backend_calls": int(calls),
        "backend_ms_per_call": round(1000 * backend_s / calls, 1) if calls else None,
        "backend_ms_per_turn": round(1000 * backend_s / max(1, messages), 1),
        "ms_per_backend_turn": round(1000 * backend_s / actions, 1) if actions else 0.0,
        "custom_actions": int(actions),
        "action_ms_per_run": round(1000 * action_s / actions, 1) if actions else None,
    }


def start_profiler(pid: int, out: Path) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is missing (make install): no profile", file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profiled_processes(deployment: Deployment, assistant: str) -> dict[str, int]:
    """The processes BENCH_PROFILE samples, by the name of their profile: the first Rasa replica as
    `<assistant>`, and where the stack has them the action server and the demo shop as `<assistant>-actions` and
    `<assistant>-demoshop` (a backend-calling turn waits on both)."""
    named = {assistant: deployment.rasa_pids[0]}
    for role in ("actions", "demoshop"):
        pids = deployment.extra_pids.get(role)
        if pids:
            named[f"{assistant}-{role}"] = pids[0]
    return named


def stop_profiler(profiler: subprocess.Popen | None) -> None:
    if profiler and profiler.poll() is None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()


def measure(
    deployment: Deployment,
    assistant: str,
    levels: list[int],
    per_level: int,
    warmup: int,
    profile_level: int | None = None,
    profile_out: Path = RESULTS / "bench-serve.json",
) -> dict:
    from actions import customer_token

    library = scripts.load()[assistant]
    issue = lambda customer: customer_token.issue(customer, secret=TOKEN_SECRET)  # noqa: E731
    run_id = time.strftime("%H%M%S")
    warm = scripts.plan(library, max(warmup, len(deployment.urls)), seed=1, prefix=f"{assistant}-{run_id}-warm")
    scripts.attach_tokens(warm, issue)
    print(f"[{assistant}] warm-up: {warm_up(deployment.urls, warm)}", flush=True)
    idle_rss = rss_by_root(deployment.rasa_pids)
    out = {
        "replicas": len(deployment.rasa),
        "urls": len(deployment.urls),
        "startup_s": deployment.startup_s,
        "idle_rss_mb": [round(v / 2**20, 1) for v in idle_rss.values()],
        "levels": [],
    }
    for concurrency in levels:
        count = max(per_level, 2 * concurrency)
        plan = scripts.plan(library, count, seed=concurrency, prefix=f"{assistant}-{run_id}-c{concurrency}")
        scripts.attach_tokens(plan, issue)
        groups = {"rasa": deployment.rasa_pids, **deployment.extra_pids}
        profilers = []
        if profile_level == concurrency:
            profilers = [
                start_profiler(pid, profile_out.parent / f"{profile_out.stem}-profile-{name}.txt")
                for name, pid in profiled_processes(deployment, assistant).items()
            ]
        before = scrape(deployment.metrics_url)
        try:
            with Sampler(groups) as sampler:
                result = run_level_sync(deployment.urls, plan, concurrency)
        finally:
            for profiler in profilers:
                stop_profiler(profiler)
        after = scrape(deployment.metrics_url)
        backend = backend_delta(before, after, result.messages) if deployment.metrics_url else None
        entry = report.level_entry(result, summarize_latencies(result.latencies_s), sampler.result(), backend)
        out["levels"].append(entry)
        print(
            f"[{assistant}] {concurrency:>3} conversations: {entry['messages']} msgs, {entry['errors']} errors, "
            f"{entry['messages_per_s']} msg/s, p50 {entry['p50_ms']} p95 {entry['p95_ms']} p99 {entry['p99_ms']} ms, "
            f"rasa cores {entry['rasa'].get('cores_used')}"
            + (f"; errors e.g. {result.error_samples[:2]}" if result.errors else ""),
            flush=True,
        )
        if concurrency == 1 and deployment.metrics_url:
            entry["own_time"] = own_time(deployment, library, count, issue, f"{assistant}-{run_id}-own")
            print(
                f"[{assistant}]   1 conversation, each turn less its own backend calls: {entry['own_time']}", flush=True
            )
    return out


def own_time(deployment: Deployment, library, count: int, issue, prefix: str) -> dict:
    """Turn latency minus the backend time of that very turn, one conversation at a time (a second pass).

    The action server's backend histogram is read before and after each turn, outside the timed request, so
    each turn is charged exactly the backend calls it made: what "p95 at 1 conversation at most 25 ms plus
    the backend calls the turn makes" asks. The first pass's figures stay free of the probes' requests.
    """
    plan = scripts.plan(library, count, seed=1001, prefix=prefix)
    scripts.attach_tokens(plan, issue)

    def backend_seconds() -> float:
        return scrape(deployment.metrics_url).get("assistant_backend_request_seconds_sum", 0.0)

    result = run_level_sync(deployment.urls, plan, 1, backend_probe=backend_seconds)
    own = [max(0.0, latency - backend) for latency, backend in zip(result.latencies_s, result.backend_s, strict=True)]
    with_backend = [backend for backend in result.backend_s if backend > 0]
    summary = summarize_latencies(own)
    return {
        "turns": result.messages,
        "errors": result.errors,
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "raw_p95_ms": summarize_latencies(result.latencies_s)["p95_ms"],
        "turns_with_backend_calls": len(with_backend),
        "backend_ms_per_such_turn": round(1000 * sum(with_backend) / len(with_backend), 1) if with_backend else 0.0,
    }


def floor(model: Path, assistant: str, env: dict[str, str], rounds: int) -> dict | None:
    """NLU + policy in process, in a child process (TensorFlow stays out of the load generator)."""
    command = [
        sys.executable,
        "-m",
        "bench.floor",
        "--model",
        str(model),
        "--assistant",
        assistant,
        "--rounds",
        str(rounds),
    ]
    done = subprocess.run(command, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if line.startswith("FLOOR_JSON "):
            return json.loads(line[len("FLOOR_JSON ") :])
    print(f"[{assistant}] floor failed: {done.stderr[-800:]}", file=sys.stderr)
    return None


def rest_share(assistant: dict) -> str | None:
    one = report.level(assistant["levels"], 1)
    fl = assistant.get("floor")
    if not one or not fl or not one.get("p50_ms"):
        return None
    share = max(0.0, 1 - fl["floor_p50_ms"] / one["p50_ms"])
    return f"{share:.0%} of the p50 turn ({one['p50_ms']} ms; floor {fl['floor_p50_ms']} ms)"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its results; 2 when a setting or the model is missing or unusable."""
    try:
        settings = ServeBenchSettings.from_env()
    except SettingsError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default=settings.levels)
    parser.add_argument("--conversations", type=int, default=settings.conversations)
    parser.add_argument("--replicas", type=int, default=settings.replicas)
    parser.add_argument("--warmup", type=int, default=settings.warmup)
    parser.add_argument("--skip-stock", action="store_true", default=settings.skip_stock)
    parser.add_argument("--skip-floor", action="store_true", default=settings.skip_floor)
    parser.add_argument("--floor-rounds", type=int, default=settings.floor_rounds)
    parser.add_argument(
        "--profile",
        type=int,
        default=settings.profile or None,
        help="py-spy the first Rasa replica during this concurrency level",
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=RESULTS / "bench-serve.json")
    args = parser.parse_args(argv)
    levels = parse_levels(args.levels)
    if not args.model.exists():
        print(f"error: {args.model} is missing: run `make train`", file=sys.stderr)
        return 2
    tuning = rasa_env()
    document = {
        "schema": report.SCHEMA,
        "provisional": True,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": report.machine(),
        "settings": {
            "levels": levels,
            "conversations_per_level": args.conversations,
            "replicas": args.replicas,
            "rasa_env": tuning,
            "balancing": "load generator, round-robin per request over the replicas",
            "ours": "N rasa run replicas, PostgreSQL tracker store, Redis lock store, action server, demo shop",
            "store_io_threads": settings.store_io_threads,
            "stock": "rasa init starter, 1 rasa run process, in-memory tracker store, default env",
        },
        "assistants": {},
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-serve-", dir=CACHE) as tmp_name:
        tmp = Path(tmp_name)
        # A snapshot: `make train` elsewhere may rewrite models/larkspur.tar.gz while the benchmark runs.
        model = tmp / "larkspur.tar.gz"
        shutil.copyfile(args.model, model)
        document["settings"]["model_mb"] = round(model.stat().st_size / 2**20, 1)
        print(
            f"starting ours: {args.replicas} Rasa replicas + PostgreSQL + Redis + action server + demo shop "
            f"(env from scripts/rasa-env.sh: {tuning})",
            flush=True,
        )
        ours = start_ours(
            tmp / "ours",
            model,
            args.replicas,
            tuning,
            shop_threads=settings.shop_threads,
            store_io_threads=settings.store_io_threads,
        )
        try:
            print(f"[larkspur] start-up per replica: {ours.startup_s} s", flush=True)
            document["assistants"]["larkspur"] = measure(
                ours, "larkspur", levels, args.conversations, args.warmup, args.profile, args.out
            )
        finally:
            ours.stop()
        if not args.skip_stock:
            project, stock_model = stock_project(CACHE)
            stock = start_stock(tmp / "stock", project, stock_model)
            try:
                print(f"[stock] start-up: {stock.startup_s} s", flush=True)
                document["assistants"]["stock"] = measure(
                    stock, "stock", levels, args.conversations, args.warmup, args.profile, args.out
                )
                document["assistants"]["stock"]["model"] = str(stock_model.relative_to(REPO))
            finally:
                stock.stop()
        if settings.long_turns:
            document["long_conversation"] = long_conversation.run(tmp, model, settings.long_turns, tuning)
        if not args.skip_floor:
            print("floor: NLU + policy in process", flush=True)
            document["assistants"]["larkspur"]["floor"] = floor(model, "larkspur", tuning, args.floor_rounds)
            if "stock" in document["assistants"]:
                document["assistants"]["stock"]["floor"] = floor(
                    REPO / document["assistants"]["stock"]["model"], "stock", {}, args.floor_rounds
                )
    for assistant in document["assistants"].values():
        assistant["rest_share_at_1"] = rest_share(assistant)
    document["targets"] = report.verdicts(document["assistants"]["larkspur"], document["assistants"].get("stock"))
    document["capacity"] = report.capacity(document["assistants"]["larkspur"])
    report.write(document, args.out)
    report.plot(document, args.out.with_suffix(".png"))
    if "long_conversation" in document:
        long_conversation.plot(document["long_conversation"], args.out.with_name(args.out.stem + "-long.png"))
    print("\n" + report.table(document))
    if "long_conversation" in document:
        print("\n" + long_conversation.table(document["long_conversation"]))
    print(f"\nresults: {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
