"""The faults `make chaos` injects, one at a time, into a running cluster (its state file names every PID).

A kill or a restart is real: the process gets SIGKILL, or its own shutdown signal, and the cluster's runner
starts it again as it would after a crash. The demo shop's slowness and garbage, and the action servers' added
latency, are switched on the fault gates in front of them (chaos/fault_gate.py), and off when the fault ends.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from foundation.processes import http_ready

SLOW_SHOP_MS = 2000
ACTIONS_LATENCY_MS = 1000


@dataclass(frozen=True)
class Fault:
    """One fault: what it does to the cluster, and (for a lasting one) how it is healed."""

    name: str
    title: str
    inject: Callable[[dict], None]
    heal: Callable[[dict], None] | None = None  # None: the injection is instantaneous (a kill, a restart)
    members: tuple[str, ...] = ()  # waited for, ready again, before the next fault


def _signal(state: dict, name: str, sig: signal.Signals) -> None:
    pid = state["members"][name]["pid"]
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _kill(*names: str) -> Callable[[dict], None]:
    def kill(state: dict) -> None:
        for name in names:
            _signal(state, name, signal.SIGKILL)

    return kill


def _stop(name: str, sig: signal.Signals) -> Callable[[dict], None]:
    return lambda state: _signal(state, name, sig)


def _gate(name: str, **faults: int | bool) -> Callable[[dict], None]:
    def switch(state: dict) -> None:
        port = state["members"][name]["port"]
        requests.put(f"http://127.0.0.1:{port}/__fault__", json=faults, timeout=5).raise_for_status()

    return switch


def all_faults(state: dict) -> list[Fault]:
    """Every fault, in the order the full run injects them (the names CHAOS_FAULTS picks from)."""
    actions = tuple(n for n, m in state["members"].items() if m["role"] == "actions")
    return [
        Fault("rasa-kill", "kill -9 of a Rasa replica", _kill("rasa-1"), members=("rasa-1",)),
        Fault("actions-kill", "kill -9 of an action server", _kill(actions[0]), members=(actions[0],)),
        Fault("actions-all-kill", "kill -9 of every action server", _kill(*actions), members=actions),
        Fault("postgres-restart", "restart of PostgreSQL", _stop("postgres", signal.SIGINT), members=("postgres",)),
        Fault("redis-restart", "restart of Redis", _stop("redis", signal.SIGTERM), members=("redis",)),
        Fault("rabbitmq-restart", "restart of RabbitMQ", _stop("rabbitmq", signal.SIGTERM), members=("rabbitmq",)),
        Fault("shop-down", "the demo shop down (kill -9)", _kill("demoshop"), members=("demoshop",)),
        Fault(
            "shop-slow",
            f"the demo shop slow ({SLOW_SHOP_MS / 1000:.0f} s)",
            _gate("shop-gate", delay_ms=SLOW_SHOP_MS),
            _gate("shop-gate"),
        ),
        Fault("shop-garbage", "the demo shop answering garbage", _gate("shop-gate", garbage=True), _gate("shop-gate")),
        Fault(
            "actions-latency",
            f"{ACTIONS_LATENCY_MS / 1000:.0f} s added to every action call",
            _gate("actions-gate", delay_ms=ACTIONS_LATENCY_MS),
            _gate("actions-gate"),
        ),
    ]


def wait_until_ready(state_path_read: Callable[[], dict | None], names: tuple[str, ...], timeout_s: float) -> float:
    """Seconds until each named member runs again (a new PID after its restart) and its readiness answers."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        state = state_path_read() or {}
        members = state.get("members", {})
        if all(name in members and _answers(members[name]) for name in names):
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"{', '.join(names)} not ready again within {timeout_s:.0f} s")


def _answers(member: dict) -> bool:
    from cluster.members import amqp_probe, redis_probe, tcp_probe

    port = member["port"]
    role = member["role"]
    try:
        if role == "rasa":
            return http_ready(f"http://127.0.0.1:{port}/status", json_key="model_file")
        if role in ("actions", "demoshop"):
            return http_ready(f"http://127.0.0.1:{port}/health")
        if role == "redis":
            return redis_probe(port)()
        if role == "rabbitmq":
            return amqp_probe(port)()
        return tcp_probe(port)()
    except OSError:
        return False
