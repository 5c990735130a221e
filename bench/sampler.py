"""Samples CPU and resident memory of a set of processes (and their children) in a background thread.

CPU is taken from the processes' own CPU-time counters at start and end (exact, not sampled), so
`cores_used` = CPU seconds / wall seconds; memory (RSS) is sampled every `interval` seconds for the peak.
"""

from __future__ import annotations

import contextlib
import threading
import time

import psutil


def _tree(pids: list[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs.append(root)
            procs.extend(root.children(recursive=True))
        except psutil.NoSuchProcess:
            pass
    return procs


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for proc in _tree(pids):
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_by_root(pids: list[int]) -> dict[int, int]:
    """Resident bytes of each root pid, its children included."""
    sizes = {}
    for pid in pids:
        total = 0
        for proc in _tree([pid]):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        sizes[pid] = total
    return sizes


class Sampler:
    """`with Sampler(groups) as s: ...` then `s.result()`; groups: name -> list of root pids."""

    def __init__(self, groups: dict[str, list[int]], interval: float = 0.25):
        self.groups = {name: list(pids) for name, pids in groups.items() if pids}
        self.interval = interval
        self._stop = threading.Event()
        self._peak_rss: dict[str, dict[int, int]] = {name: {} for name in self.groups}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._cpu_start = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pids in self.groups.items():
                for pid, rss in rss_by_root(pids).items():
                    peaks = self._peak_rss[name]
                    peaks[pid] = max(peaks.get(pid, 0), rss)
            self._stop.wait(self.interval)

    def __exit__(self, *exc) -> None:
        self._wall = time.perf_counter() - self._t0
        self._cpu_end = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        self._stop.set()
        self._thread.join()

    def result(self) -> dict[str, dict]:
        out = {}
        for name in self.groups:
            cpu = self._cpu_end[name] - self._cpu_start[name]
            peaks = self._peak_rss[name]
            out[name] = {
                "cpu_seconds": round(cpu, 2),
                "cores_used": round(cpu / self._wall, 3) if self._wall > 0 else None,
                "peak_rss_mb_per_process": [round(v / 2**20, 1) for v in peaks.values()],
            }
        return out
