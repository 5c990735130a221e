"""Start the systems under test as real processes on loopback and free ports, and stop them by PID.

- ours: demo shop, action server, PostgreSQL (tracker store), Redis (lock store) and N Rasa replicas that
  share them, as in production; the load generator spreads requests round-robin over the replicas.
- stock: Rasa's starter assistant (`rasa init`) as shipped, one `rasa run` process, in-memory tracker store.

Starts them with foundation's helpers (processes.py, local_servers.py: the demo shop, the throw-away PostgreSQL
and Redis), the ones the integration tests use, so the benchmark starts services exactly as they do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from foundation import REPO
from foundation.local_servers import PostgresServer, start_demoshop, start_redis
from foundation.processes import ChildProcess, free_port

RASA_BIN = str(Path(sys.executable).with_name("rasa"))
OUR_RASA_CLI = (sys.executable, "-m", "rasa_runtime")  # JSON logs and our Rasa patches, as make run
TOKEN_SECRET = "bench-customer-token-secret-0123456789"
ACTION_SERVER_TOKEN = "bench-action-server-token-0123456789"


def wait_for_model(service: ChildProcess, url: str, timeout: float = 300) -> float:
    """Seconds from the process start until /status names a loaded model."""
    return service.wait_http(f"{url}/status", timeout, json_key="model_file")


@dataclass
class Deployment:
    """One system under test as started: its Rasa URLs and processes, and what else to stop with it."""

    name: str
    urls: list[str]
    rasa: list[ChildProcess]
    others: list = field(default_factory=list)  # services and servers to stop, in order
    startup_s: list[float] = field(default_factory=list)
    metrics_url: str | None = None
    extra_pids: dict[str, list[int]] = field(default_factory=dict)

    @property
    def rasa_pids(self) -> list[int]:
        return [s.pid for s in self.rasa]

    def stop(self) -> None:
        for service in self.rasa:
            service.stop()
        for other in self.others:
            other.stop()


def start_rasa(
    model: Path,
    tmp: Path,
    endpoints: Path | None,
    env: dict[str, str],
    index: int,
    cwd: Path | None = None,
    credentials: Path | None = None,
    rasa_cli: Sequence[str] = (RASA_BIN,),
) -> tuple[ChildProcess, str, float]:
    """One `rasa run`; ours goes through `rasa_runtime` (as `make run` does), stock through `rasa`."""
    port = free_port()
    args = [*rasa_cli, "run", "--model", str(model), "--port", str(port), "--interface", "127.0.0.1", "--enable-api"]
    if endpoints:
        args += ["--endpoints", str(endpoints)]
    if credentials:
        args += ["--credentials", str(credentials)]
    service = ChildProcess(
        f"rasa-{index}",
        args,
        {"RASA_TELEMETRY_ENABLED": "false", "RASA_METRICS_PORT": "0", **env},
        tmp / f"rasa-{index}.log",
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    return service, url, wait_for_model(service, url)


def start_ours(
    tmp: Path,
    model: Path,
    replicas: int,
    env: dict[str, str],
    shop_threads: int = 16,
    store_io_threads: int | None = None,
) -> Deployment:
    """Demo shop (`shop_threads` WSGI threads), action server, PostgreSQL + Redis, and `replicas` Rasa servers
    sharing them; `store_io_threads` is both stores' `io_threads` (None: their default)."""
    tmp.mkdir(parents=True, exist_ok=True)
    others: list = []
    deployment = Deployment("larkspur", [], [], others)
    try:
        postgres = PostgresServer().start()
        others.append(postgres)
        redis, redis_port = start_redis(tmp)
        others.append(redis)
        shop, shop_url = start_demoshop(tmp, env={"DEMOSHOP_THREADS": str(shop_threads)})
        others.append(shop)
        action_port, metrics_port = free_port(), free_port()
        action_env = {
            "DEMOSHOP_URL": shop_url,
            "DEMOSHOP_API_KEY": "test-key",
            "ACTIONS_PORT": str(action_port),
            "ACTIONS_METRICS_PORT": str(metrics_port),
            "CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
            "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
            "RATE_LIMITS": "off",  # the load generator is one client address sending as fast as it can
            **env,
        }
        actions = ChildProcess("actions", [sys.executable, "-m", "actions"], action_env, tmp / "actions.log")
        others.insert(0, actions)
        actions.wait_http(f"http://127.0.0.1:{action_port}/health", timeout=120)
        deployment.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        endpoints = tmp / "endpoints.yml"
        io_threads = "" if store_io_threads is None else f"  io_threads: {store_io_threads}\n"
        endpoints.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"  # unquoted: Rasa expands plain values only
            "tracker_store:\n  type: conversation_stores.tracker_store.CachingSQLTrackerStore\n"
            f"  dialect: postgresql\n  url: 127.0.0.1\n  port: {postgres.port}\n"
            f"  db: assistant\n  username: postgres\n  password: ''\n{io_threads}"
            "lock_store:\n  type: conversation_stores.lock_store.RedisTicketLockStore\n"
            f"  url: 127.0.0.1\n  port: {redis_port}\n  db: 1\n  key_prefix: bench\n{io_threads}"
        )
        rasa_process_env = {
            "CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
            "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
            "RATE_LIMITS": "off",
            **env,
        }
        # One after the other: the first start-up is measured without a second one competing for the cores,
        # and the tracker store's tables are created once.
        for index in range(replicas):
            service, url, startup = start_rasa(
                model,
                tmp,
                endpoints,
                rasa_process_env,
                index,
                credentials=REPO / "credentials.yml",
                rasa_cli=OUR_RASA_CLI,
            )
            deployment.rasa.append(service)
            deployment.urls.append(url)
            deployment.startup_s.append(round(startup, 1))
        deployment.extra_pids = {
            "actions": [actions.pid],
            "demoshop": [shop.pid],
            "postgres": [postgres.service.pid],
            "redis": [redis.pid],
        }
        return deployment
    except BaseException:
        deployment.stop()
        raise


def start_stock(tmp: Path, project: Path, model: Path) -> Deployment:
    """The starter assistant as `rasa init` made it: its own endpoints.yml (in-memory tracker store)."""
    tmp.mkdir(parents=True, exist_ok=True)
    service, url, startup = start_rasa(
        model, tmp, project / "endpoints.yml", {}, 0, cwd=project, credentials=project / "credentials.yml"
    )
    return Deployment("stock", [url], [service], [], [round(startup, 1)])


def stock_project(cache_root: Path) -> tuple[Path, Path]:
    """The `rasa init` project and its trained model, cached under var/bench/ by rasa version.

    Trained once per rasa version: later runs reuse it (delete the folder to retrain).
    """
    import rasa

    project = cache_root / f"stock-rasa-{rasa.__version__}"
    models = sorted((project / "models").glob("*.tar.gz")) if project.exists() else []
    if models:
        return project, models[-1]
    staging = cache_root / f"stock-rasa-{rasa.__version__}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    print(f"training the stock starter assistant (rasa init) into {project} (once per rasa version)", flush=True)
    subprocess.run(
        [RASA_BIN, "init", "--no-prompt", "--init-dir", "."],
        cwd=staging,
        check=True,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(project, ignore_errors=True)
    staging.rename(project)
    return project, sorted((project / "models").glob("*.tar.gz"))[-1]


def scrape(url: str | None) -> dict[str, float]:
    """Sums and counts of the action server's latency histograms (backend calls, actions)."""
    if not url:
        return {}
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"assistant_backend_request_seconds", "assistant_action_seconds"}
    totals: dict[str, float] = {}
    try:
        text = requests.get(url, timeout=5).text
    except requests.RequestException:
        return {}
    for family in text_string_to_metric_families(text):
        if family.name not in wanted:
            continue
        for sample in family.samples:
            if sample.name.endswith("_sum") or sample.name.endswith("_count"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals
