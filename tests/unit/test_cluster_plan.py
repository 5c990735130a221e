"""What `make run-cluster` would start, without starting it: the processes and their order, the replicas'
endpoints, the nginx site with replicas taken out of rotation, and the ports on loopback only."""

from __future__ import annotations

import yaml

from cluster.backing import render_site
from cluster.plan import NGINX_TEMPLATE, cluster_plan, endpoints_yaml
from cluster.runner import waves
from cluster.settings import ClusterSettings


def settings(**env: str) -> ClusterSettings:
    return ClusterSettings.from_env({"CLUSTER_INTERNAL_PORT": "21000", **env})


def test_the_plan_starts_the_backends_first_the_replicas_then_nginx(tmp_path):
    members = cluster_plan(settings(CLUSTER_RASA_REPLICAS="3", CLUSTER_ACTION_SERVERS="2"), tmp_path)
    assert [m.name for m in members] == [
        "postgres",
        "redis",
        "epmd",
        "rabbitmq",
        "demoshop",
        "actions-1",
        "actions-2",
        "rasa-1",
        "rasa-2",
        "rasa-3",
        "analytics",
        "nginx",
    ]
    assert [[m.name for m in wave] for wave in waves(members)][5:7] == [
        ["actions-1", "actions-2"],
        ["rasa-1", "rasa-2", "rasa-3"],
    ]
    ports = [m.port for m in members]
    assert len(set(ports)) == len(ports)
    assert members[-1].port == 8000 and all(21000 <= p < 21100 for p in ports[:-1])


def test_fault_gates_sit_in_front_of_the_shop_and_the_action_servers_only_when_asked(tmp_path):
    plain = cluster_plan(settings(), tmp_path)
    gated = cluster_plan(settings(CLUSTER_FAULT_GATES="on"), tmp_path)
    assert not [m for m in plain if m.role == "fault-gate"]
    gates = {m.name: m for m in gated if m.role == "fault-gate"}
    assert set(gates) == {"shop-gate", "actions-gate"}
    action = next(m for m in gated if m.name == "actions-1")
    assert action.env["DEMOSHOP_URL"] == f"http://127.0.0.1:{gates['shop-gate'].port}"


def test_the_replicas_share_postgres_redis_and_rabbitmq_and_expand_their_secrets():
    chosen = settings()
    endpoints = endpoints_yaml(chosen, "http://127.0.0.1:21006/webhook")
    config = yaml.safe_load(endpoints)
    assert config["tracker_store"]["type"] == "conversation_stores.tracker_store.CachingSQLTrackerStore"
    assert config["tracker_store"]["port"] == chosen.internal("postgres")
    assert config["lock_store"]["type"] == "conversation_stores.lock_store.RedisTicketLockStore"
    assert config["event_broker"]["type"] == "pika" and config["event_broker"]["queues"] == ["larkspur_events"]
    # unquoted, so Rasa expands them from the environment
    assert "Authorization: Bearer ${ACTION_SERVER_TOKEN}\n" in endpoints
    assert "password: ${RABBITMQ_PASSWORD}\n" in endpoints


def test_the_nginx_site_lists_every_replica_and_marks_the_restarting_ones_down():
    site = render_site(
        NGINX_TEMPLATE.read_text(),
        listen=8000,
        rasa=[21050, 21051],
        actions_listen=21006,
        actions=[21010],
        down=frozenset({21051}),
    )
    assert "listen 127.0.0.1:8000;" in site and "listen 127.0.0.1:21006;" in site
    assert "server 127.0.0.1:21050 max_fails=1 fail_timeout=5s;" in site
    assert "server 127.0.0.1:21051 max_fails=1 fail_timeout=5s down;" in site
    assert "server 127.0.0.1:21010 max_fails=1 fail_timeout=2s;" in site
    code = [line for line in site.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "${" in line]
    assert "non_idempotent" in site  # a turn a dead replica dropped goes to another
