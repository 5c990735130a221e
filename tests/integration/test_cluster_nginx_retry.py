"""The cluster's nginx (docker/nginx/cluster.conf, rendered as `make run-cluster` renders it) on Debian's nginx: a
webhook POST that a Rasa replica drops without answering is retried on the other one with the same X-Request-ID,
which the REST channel makes the message's id (rasa_runtime/idempotent_turns.py answers such a retry from the
tracker store)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from cluster.backing import nginx_main_conf, render_site
from cluster.plan import NGINX_TEMPLATE
from tests.support.processes import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
WEBHOOK = "/webhooks/rest/webhook"
NGINX_ID = re.compile(r"[0-9a-f]{32}")  # nginx's $request_id


@dataclass
class Attempts:
    """What the two stand-in replicas saw: (replica, X-Request-ID, body) per attempt; each request's first attempt
    is dropped (the connection closed without an answer, as by a replica killed mid-turn), any later one answered."""

    seen: list[tuple[str, str | None, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_of(self, request_id: str | None, body: bytes) -> bool:
        with self.lock:
            return not any(seen_id == request_id and seen_body == body for _, seen_id, seen_body in self.seen)


def replica(name: str, attempts: Attempts) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request_id = self.headers.get("X-Request-ID")
            first = attempts.first_of(request_id, body)
            with attempts.lock:
                attempts.seen.append((name, request_id, body))
            if first:
                self.close_connection = True  # no status line: nginx sees the upstream close prematurely
                return
            data = json.dumps([{"recipient_id": "x", "text": f"answered by {name}"}]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Cluster:
    url: str
    attempts: Attempts
    tmp: Path


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    """nginx with the cluster's configuration in front of two stand-in replicas (a fresh one per test: a dropped
    attempt marks its replica failed for a few seconds)."""
    if NGINX is None:
        pytest.fail("nginx is missing: `make system-deps` (scripts/install-system-deps.sh) installs Debian's nginx")
    attempts = Attempts()
    replicas = [replica("rasa-1", attempts), replica("rasa-2", attempts)]
    port = free_port()
    site = tmp_path / "cluster.conf"
    site.write_text(
        render_site(
            NGINX_TEMPLATE.read_text(),
            listen=port,
            rasa=[server.server_address[1] for server in replicas],
            actions_listen=free_port(),
            actions=[free_port()],
        )
    )
    (tmp_path / "nginx.conf").write_text(nginx_main_conf(tmp_path, site))
    with open(tmp_path / "stdout.log", "wb") as stdout:
        proc = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "error.log").read_text(errors="replace")
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "nginx did not answer within 30 s"
            time.sleep(0.1)
        yield Cluster(url, attempts, tmp_path)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # no daemon: the process started here is nginx's master
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for server in replicas:
            server.shutdown()
            server.server_close()


def post(cluster: Cluster, headers: dict[str, str] | None = None) -> requests.Response:
    body = {"sender": "a-sender-id-of-the-test", "message": "how long does delivery take?"}
    return requests.post(cluster.url + WEBHOOK, json=body, headers=headers or {}, timeout=30)


def webhook_log_lines(cluster: Cluster, timeout: float = 10.0) -> list[dict]:
    """The access log's webhook lines, once there is one: nginx writes a request's line after it has sent the
    answer, so the client can read the answer first."""
    deadline = time.monotonic() + timeout
    while True:
        path = cluster.tmp / "access.log"
        lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        found = [line for line in lines if line["path"] == WEBHOOK]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_dropped_attempt_is_retried_on_the_other_replica_with_the_same_request_id(cluster):
    answer = post(cluster)
    assert answer.status_code == 200, answer.text
    (first, second) = cluster.attempts.seen
    assert {first[0], second[0]} == {"rasa-1", "rasa-2"}  # the retry went to the other replica
    assert answer.json()[0]["text"] == f"answered by {second[0]}"
    assert first[1] == second[1] and NGINX_ID.fullmatch(first[1] or ""), cluster.attempts.seen
    assert first[2] == second[2]  # the same body
    log = webhook_log_lines(cluster)
    assert [(line["status"], line["upstream_status"]) for line in log] == [(200, "502, 200")]
    assert [line["request_id"] for line in log] == [first[1]]  # one search finds it


def test_a_clients_valid_request_id_is_kept_on_every_attempt(cluster):
    answer = post(cluster, {"X-Request-ID": "widget-7f3a9c21.retry_1"})
    assert answer.status_code == 200, answer.text
    assert [request_id for _, request_id, _ in cluster.attempts.seen] == ["widget-7f3a9c21.retry_1"] * 2


@pytest.mark.parametrize("sent", ["short", "has spaces in it", "x" * 129, "semi;colon-1234"])
def test_a_request_id_the_channels_would_not_keep_is_replaced_by_nginxs_own(cluster, sent):
    answer = post(cluster, {"X-Request-ID": sent})
    assert answer.status_code == 200, answer.text
    ids = [request_id for _, request_id, _ in cluster.attempts.seen]
    assert len(ids) == 2 and ids[0] == ids[1] and NGINX_ID.fullmatch(ids[0] or ""), ids
