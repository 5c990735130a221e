"""`make bench-train`: wall time and peak memory of `rasa train` for the full assistant, cold and warm.

- cold: an empty cache directory (RASA_CACHE_DIRECTORY, Rasa's rasa.engine.caching), so every component trains;
  what CI and a fresh clone pay. `rasa train --force` costs the same: it bypasses the cache.
- warm: the same command again with that cache and unchanged data: rasa 3 fingerprints each graph node and
  reuses the cached outputs, so only packaging and the nodes whose inputs changed run.
Peak memory is the resident memory of the whole process tree, sampled with psutil every 0.25 s.
Model size on disk is the packed .tar.gz. Writes results/bench-train.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.report import machine
from bench.stacks import RASA_BIN
from foundation import REPO


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
    except psutil.NoSuchProcess:
        pass
    return total


def timed(command: list[str], env: dict[str, str], log: Path, interval: float = 0.25) -> dict:
    """Run `command`, returning wall seconds, peak tree RSS and CPU seconds of the tree."""
    peak = 0
    cpu = {}
    started = time.perf_counter()
    with open(log, "wb") as out:
        child = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        proc = psutil.Process(child.pid)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(proc))
                try:
                    for p in [proc, *proc.children(recursive=True)]:
                        t = p.cpu_times()
                        cpu[p.pid] = (
                            t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)
                        )
                except psutil.NoSuchProcess:
                    pass
                stop.wait(interval)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        code = child.wait()
        stop.set()
        thread.join()
    return {
        "exit_code": code,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
        "cpu_s": round(sum(cpu.values()), 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench-train.json")
    parser.add_argument("--skip-warm", action="store_true")
    args = parser.parse_args(argv)
    (REPO / "var" / "bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-train-", dir=REPO / "var" / "bench") as tmp_name:
        tmp = Path(tmp_name)
        env = {"RASA_TELEMETRY_ENABLED": "false", "RASA_CACHE_DIRECTORY": str(tmp / "cache")}
        runs = {}
        for kind in ("cold", "warm"):
            if kind == "warm" and args.skip_warm:
                continue
            models = tmp / f"models-{kind}"
            command = [
                RASA_BIN,
                "train",
                "--config",
                "config.yml",
                "--domain",
                "domain.yml",
                "--data",
                "data",
                "--out",
                str(models),
                "--fixed-model-name",
                "bench",
            ]
            print(f"[{kind}] rasa train (cache {env['RASA_CACHE_DIRECTORY']})", flush=True)
            result = timed(command, env, tmp / f"train-{kind}.log")
            model = models / "bench.tar.gz"
            result["model_mb"] = round(model.stat().st_size / 2**20, 1) if model.exists() else None
            result["cache_mb"] = round(
                sum(f.stat().st_size for f in (tmp / "cache").rglob("*") if f.is_file()) / 2**20, 1
            )
            log_text = (tmp / f"train-{kind}.log").read_text(errors="replace")
            result["components_restored_from_cache"] = log_text.count("Restored component")
            result["components_trained"] = sorted(set(re.findall(r"Starting to train component '(\w+)'", log_text)))
            if result["exit_code"] != 0:
                result["log_tail"] = log_text[-1500:]
            runs[kind] = result
            print(f"[{kind}] {result}", flush=True)
    document = {
        "schema": "larkspur-bench-train/1",
        "provisional": True,
        "machine": machine(),
        "command": "rasa train --config config.yml --domain domain.yml --data data",
        "runs": runs,
        "notes": "cold: empty RASA_CACHE_DIRECTORY (same cost as --force); warm: same cache, unchanged data",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"results: {args.out}")
    return 0 if all(r["exit_code"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
