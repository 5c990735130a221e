"""What `make run-cluster` starts, in start order: the backing services, the demo shop, M action servers, N Rasa
replicas sharing one PostgreSQL tracker store, one Redis lock store and one RabbitMQ event broker, the analytics
consumer of that broker (its store a PostgreSQL database of its own, its report page on loopback), and nginx.

With CLUSTER_FAULT_GATES=on (make chaos) a fault gate (chaos/fault_gate.py) sits between the action servers and
the demo shop and another between the Rasa replicas and the action servers, so faults can be switched on there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote

from analytics.settings import EVENT_QUEUE
from cluster.backing import nginx_member, postgres_member, postgres_url, rabbitmq_members, redis_member
from cluster.members import Member, http_probe
from cluster.settings import ClusterSettings
from foundation import REPO
from foundation.local_secrets import local_secret
from launcher.tuning import rasa_env

NGINX_TEMPLATE = REPO / "docker" / "nginx" / "cluster.conf"
RABBITMQ_USER = "larkspur"


def cluster_secrets() -> dict[str, str]:
    """The secrets the cluster's processes share: the operator's, or this checkout's (foundation/local_secrets.py)."""
    names = ("ACTION_SERVER_TOKEN", "CUSTOMER_TOKEN_SECRET", "DEMOSHOP_API_KEY", "RABBITMQ_PASSWORD", "REPORT_TOKEN")
    return {name: local_secret(name) for name in names}


def endpoints_yaml(settings: ClusterSettings, action_url: str) -> str:
    """The replicas' endpoints: PostgreSQL tracker store, Redis lock store, RabbitMQ (pika) event broker."""
    pg, redis, rabbit = settings.internal("postgres"), settings.internal("redis"), settings.internal("rabbitmq")
    return (
        f'action_endpoint:\n  url: "{action_url}"\n'
        "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"  # unquoted: Rasa expands plain values only
        "tracker_store:\n  type: conversation_stores.tracker_store.CachingSQLTrackerStore\n"
        f"  dialect: postgresql\n  url: 127.0.0.1\n  port: {pg}\n  db: assistant\n  username: postgres\n"
        "  password: ''\n"
        "lock_store:\n  type: conversation_stores.lock_store.RedisTicketLockStore\n"
        f"  url: 127.0.0.1\n  port: {redis}\n  db: 1\n  key_prefix: cluster\n"
        f"event_broker:\n  type: pika\n  url: 127.0.0.1\n  port: {rabbit}\n  username: {RABBITMQ_USER}\n"
        "  password: ${RABBITMQ_PASSWORD}\n"
        f"  queues:\n    - {EVENT_QUEUE}\n"
    )


def cluster_plan(settings: ClusterSettings, root: Path) -> list[Member]:
    """Every process of the cluster in start order; files they need are written by their `prepare` steps."""
    python = sys.executable
    secrets = cluster_secrets()
    pg_port = settings.internal("postgres")
    ports = {name: settings.internal(name) for name in ("epmd", "rabbitmq", "rabbitmq-dist")}
    members = [
        postgres_member(root / "postgres", pg_port),
        redis_member(root / "redis", settings.internal("redis")),
        *rabbitmq_members(root / "rabbitmq", ports, RABBITMQ_USER, secrets["RABBITMQ_PASSWORD"]),
    ]
    shop_port = settings.internal("demoshop")
    members.append(
        Member(
            "demoshop",
            "demoshop",
            [python, "-m", "demoshop"],
            shop_port,
            http_probe(f"http://127.0.0.1:{shop_port}/health"),
            env={
                "DEMOSHOP_HOST": settings.host,
                "DEMOSHOP_PORT": str(shop_port),
                "DEMOSHOP_DATABASE_URL": postgres_url(pg_port, "demoshop"),
                "DEMOSHOP_API_KEY": secrets["DEMOSHOP_API_KEY"],
                "DEMOSHOP_METRICS_PORT": str(settings.internal("demoshop-metrics")),
            },
            json_logs=True,
            metrics_port=settings.internal("demoshop-metrics"),
        )
    )
    shop_url = f"http://127.0.0.1:{shop_port}"
    balancer = settings.internal("actions-balancer")
    action_url = f"http://127.0.0.1:{balancer}/webhook"
    if settings.fault_gates:
        shop_gate, actions_gate = settings.internal("shop-gate"), settings.internal("actions-gate")
        members += [
            _gate("shop-gate", shop_gate, shop_url),
            _gate("actions-gate", actions_gate, f"http://127.0.0.1:{balancer}"),
        ]
        shop_url, action_url = f"http://127.0.0.1:{shop_gate}", f"http://127.0.0.1:{actions_gate}/webhook"
    action_ports = [settings.internal("actions", i) for i in range(settings.action_servers)]
    for index, port in enumerate(action_ports):
        members.append(
            Member(
                f"actions-{index + 1}",
                "actions",
                [python, "-m", "actions"],
                port,
                http_probe(f"http://127.0.0.1:{port}/health"),
                env={
                    "ACTIONS_HOST": settings.host,
                    "ACTIONS_PORT": str(port),
                    "ACTIONS_METRICS_PORT": str(settings.internal("actions-metrics", index)),
                    "DEMOSHOP_URL": shop_url,
                    "DEMOSHOP_API_KEY": secrets["DEMOSHOP_API_KEY"],
                    "ACTION_SERVER_TOKEN": secrets["ACTION_SERVER_TOKEN"],
                    "CUSTOMER_TOKEN_SECRET": secrets["CUSTOMER_TOKEN_SECRET"],
                    "AUDIT_DATABASE_URL": postgres_url(pg_port, "audit"),
                    "AUDIT_SPOOL_PATH": str(root / f"audit-spool-{index + 1}.jsonl"),
                    "RATE_LIMITS": settings.rate_limits,
                },
                startup_seconds=120,
                json_logs=True,
                metrics_port=settings.internal("actions-metrics", index),
            )
        )
    endpoints = root / "endpoints.yml"
    rasa_ports = [settings.internal("rasa", i) for i in range(settings.rasa_replicas)]
    auth = {"Authorization": f"Bearer {settings.rasa_auth_token}"} if settings.rasa_auth_token else {}
    for index, port in enumerate(rasa_ports):
        command = [
            python,
            "-m",
            "rasa_runtime",
            "run",
            "--model",
            settings.model,
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(REPO / "credentials.yml"),
            "--interface",
            settings.host,
            "--port",
            str(port),
            "--enable-api",
        ]
        if settings.rasa_auth_token:
            command += ["--auth-token", settings.rasa_auth_token]
        members.append(
            Member(
                f"rasa-{index + 1}",
                "rasa",
                command,
                port,
                http_probe(f"http://127.0.0.1:{port}/status", "model_file", auth),
                env={
                    **rasa_env(),
                    "RASA_TELEMETRY_ENABLED": "false",
                    "ACTION_SERVER_TOKEN": secrets["ACTION_SERVER_TOKEN"],
                    "RABBITMQ_PASSWORD": secrets["RABBITMQ_PASSWORD"],
                    "TICKET_LOCK_LIFETIME": str(settings.lock_lifetime),
                    "RASA_METRICS_PORT": str(settings.internal("rasa-metrics", index)),
                    "RATE_LIMITS": settings.rate_limits,
                    # nginx in front: the shopper's address is the last hop of X-Forwarded-For it appends
                    "RATE_LIMIT_TRUSTED_PROXIES": os.environ.get("RATE_LIMIT_TRUSTED_PROXIES") or "127.0.0.1",
                },
                startup_seconds=400,
                prepare=lambda: _write(endpoints, endpoints_yaml(settings, action_url)),
                json_logs=True,
                metrics_port=settings.internal("rasa-metrics", index),
            )
        )
    members.append(analytics_member(settings, secrets))
    members.append(nginx_member(root / "nginx", NGINX_TEMPLATE, settings.port, rasa_ports, balancer, action_ports))
    return members


def analytics_member(settings: ClusterSettings, secrets: dict[str, str]) -> Member:
    """The one consumer of the event queue (docs/analytics.md): counts into the cluster's `analytics` database and
    serves the report page on loopback. Its broker URL carries the password, so it goes in the environment, never
    on the command line `make status-cluster` could show."""
    port = settings.internal("analytics")
    password = quote(secrets["RABBITMQ_PASSWORD"], safe="")
    return Member(
        "analytics",
        "analytics",
        [sys.executable, "-m", "analytics", "consume", "--source", "rabbitmq", "--queue", EVENT_QUEUE, "--serve"],
        port,
        http_probe(f"http://127.0.0.1:{port}/health"),
        env={
            "ANALYTICS_RABBITMQ_URL": f"amqp://{RABBITMQ_USER}:{password}@127.0.0.1:{settings.internal('rabbitmq')}/",
            "ANALYTICS_DATABASE_URL": postgres_url(settings.internal("postgres"), "analytics"),
            "ANALYTICS_HOST": settings.host,
            "ANALYTICS_PORT": str(port),
            "ANALYTICS_METRICS_PORT": str(settings.internal("analytics-metrics")),
            "REPORT_TOKEN": secrets["REPORT_TOKEN"],
        },
        url=f"http://127.0.0.1:{port}/report",
        startup_seconds=90,
        json_logs=True,
    )


def _gate(name: str, port: int, upstream: str) -> Member:
    return Member(
        name,
        "fault-gate",
        [sys.executable, "-m", "chaos.fault_gate", "--port", str(port), "--upstream", upstream],
        port,
        http_probe(f"http://127.0.0.1:{port}/__fault__"),
        json_logs=True,
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
