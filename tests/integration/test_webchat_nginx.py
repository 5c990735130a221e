"""The web chat's production configuration (docker/nginx/webchat.conf) on the real nginx from Debian: the repository's
webchat/ served with its headers, no directory listing, and the widget's webhook proxied to a stand-in of Rasa."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.channels.standins import Recorded, StandIn
from tests.support.processes import REPO, free_port

CONF = REPO / "docker" / "nginx" / "webchat.conf"
WEBCHAT = REPO / "webchat"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
WEBHOOK = "/webhooks/rest/webhook"
INSTALL_HINT = "nginx is missing: `make system-deps` (scripts/install-system-deps.sh) installs Debian's nginx"


def rendered(conf: str, *, port: int, upstream: str, root: Path) -> str:
    """The production file with this test's address, webchat folder and Rasa upstream, as an operator would set them."""
    for placeholder, value in (
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("root /usr/share/nginx/larkspur-webchat;", f"root {root};"),
        ("server ${RASA_UPSTREAM};", f"server {upstream};"),
    ):
        assert conf.count(placeholder) == 1, f"{CONF} no longer has exactly one {placeholder!r}"
        conf = conf.replace(placeholder, value)
    return conf


def main_conf(tmp: Path, site: Path) -> str:
    """A main nginx.conf of the test's own: pid file, logs and temp paths in `tmp`, the current user, no daemon."""
    user = ""
    if os.geteuid() == 0:  # only a root master switches users; keep the workers as whoever runs the test
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    temp = "\n".join(
        f"    {name}_temp_path {tmp / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} notice;
events {{ worker_connections 64; }}
http {{
{temp}
    access_log {tmp / "access.log"};
    include {site};
}}
"""


@dataclass
class Nginx:
    proc: subprocess.Popen
    url: str
    tmp: Path
    rasa: StandIn

    def pid(self) -> int:
        return int((self.tmp / "nginx.pid").read_text())

    def log(self) -> str:
        return "\n".join(
            (self.tmp / name).read_text(errors="replace")[-3000:]
            for name in ("error.log", "stdout.log")
            if (self.tmp / name).exists()
        )


def rasa_standin() -> StandIn:
    """Answers the REST webhook as Rasa does: a list of bot messages for the sender."""

    def webhook(request: Recorded) -> tuple[int, Any]:
        return 200, [{"recipient_id": request.json()["sender"], "text": "Hi from the Rasa stand-in."}]

    return StandIn("rasa", [("POST", WEBHOOK, webhook)])


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    if NGINX is None:
        pytest.fail(INSTALL_HINT)
    tmp = tmp_path_factory.mktemp("nginx")
    rasa = rasa_standin()
    port = free_port()
    site = tmp / "webchat.conf"
    site.write_text(rendered(CONF.read_text(), port=port, upstream=rasa.url.removeprefix("http://"), root=WEBCHAT))
    (tmp / "nginx.conf").write_text(main_conf(tmp, site))
    stdout = open(tmp / "stdout.log", "wb")  # noqa: SIM115  (nginx writes to it until it is stopped)
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Nginx(proc, f"http://127.0.0.1:{port}", tmp, rasa)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited with {proc.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"nginx did not answer within 30 s:\n{server.log()}")
        time.sleep(0.1)
    yield server
    if proc.poll() is None:
        os.kill(server.pid(), signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    stdout.close()
    rasa.stop()


def csp(response: requests.Response) -> dict:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


def assert_secure_headers(response: requests.Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = csp(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]  # no inline code, no eval
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert "Server" not in response.headers or "/" not in response.headers["Server"]  # no version


def test_the_page_is_served_revalidated_with_a_strict_policy(nginx):
    for path in ("/", "/index.html"):
        page = requests.get(nginx.url + path, timeout=5)
        assert page.status_code == 200, path
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert page.content == (WEBCHAT / "index.html").read_bytes()
        assert page.headers["Cache-Control"] == "no-cache"
        assert page.headers.get("ETag") and page.headers.get("Last-Modified")
        assert_secure_headers(page)
    # what the page loads is allowed by that policy: same-origin files, no inline script or style
    html = (WEBCHAT / "index.html").read_text()
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert 'href="data:,"' in html and "data:" in csp(page)["img-src"]


@pytest.mark.parametrize(
    "name,content_type",
    [
        ("widget.js", "text/javascript; charset=utf-8"),
        ("widget.css", "text/css; charset=utf-8"),
        ("demo.css", "text/css; charset=utf-8"),
    ],
)
def test_the_widgets_assets_are_served_with_cache_headers(nginx, name, content_type):
    asset = requests.get(f"{nginx.url}/{name}", timeout=5)
    assert asset.status_code == 200
    assert asset.headers["Content-Type"] == content_type
    assert asset.content == (WEBCHAT / name).read_bytes()
    assert asset.headers["Cache-Control"] == "max-age=3600"
    assert_secure_headers(asset)
    again = requests.get(f"{nginx.url}/{name}", headers={"If-None-Match": asset.headers["ETag"]}, timeout=5)
    assert again.status_code == 304 and again.content == b""


def test_the_config_points_the_widget_at_its_own_origin(nginx):
    config = requests.get(f"{nginx.url}/config.js", timeout=5)
    assert config.status_code == 200 and config.headers["Content-Type"].startswith("text/javascript")
    assert config.text == 'window.LARKSPUR_CHAT_CONFIG = {"rasaUrl": window.location.origin};\n'
    assert config.headers["Cache-Control"] == "no-cache"


def test_no_directory_listing_and_nothing_but_the_chats_files(nginx):
    probe_dir = WEBCHAT / "__pycache__"  # git-ignored; Python makes it there anyway
    made = not probe_dir.exists()
    probe_dir.mkdir(exist_ok=True)
    try:
        for path in ("/__pycache__/", "/__pycache__"):
            answer = requests.get(nginx.url + path, timeout=5, allow_redirects=False)
            assert answer.status_code == 404, path
            assert "Index of" not in answer.text and "__init__" not in answer.text
    finally:
        if made:
            shutil.rmtree(probe_dir, ignore_errors=True)
    for path in (
        "/server.py",
        "/__init__.py",
        "/__main__.py",
        "/.gitignore",
        "/..%2fREADME.md",
        "/../README.md",
        "/webhooks/rest/",
        "/model",
        "/conversations/x/tracker",
        "/status",
    ):
        answer = requests.get(nginx.url + path, timeout=5, allow_redirects=False)
        assert answer.status_code in (400, 404), path
    assert nginx.rasa.received(lambda r: r.method == "GET") == []  # none of them reached Rasa


def test_the_widgets_post_reaches_rasa_and_its_answer_comes_back(nginx):
    body = {"sender": "5f0c1a52-3a57-4b69-9d59-0f1b8e8a7c11", "message": "hi", "metadata": {}}
    answer = requests.post(
        nginx.url + WEBHOOK, json=body, timeout=10, headers={"Origin": nginx.url, "Accept": "application/json"}
    )
    assert answer.status_code == 200
    assert answer.json() == [{"recipient_id": body["sender"], "text": "Hi from the Rasa stand-in."}]
    received = nginx.rasa.wait_for(lambda r: r.method == "POST" and r.path == WEBHOOK, timeout=10)
    assert len(received) == 1
    request = received[0]
    assert request.json() == body
    assert request.headers["host"] == "127.0.0.1"  # the shopper's host name, not the upstream's address
    assert request.headers["x-forwarded-for"] == "127.0.0.1" and request.headers["x-forwarded-proto"] == "http"
    assert len(request.headers["x-request-id"]) == 32  # nginx's id for the request: Rasa's message id
    assert int(request.headers["x-request-id"], 16) >= 0  # hexadecimal
    # the webhook takes POST (and the CORS preflight) only; a GET is refused by nginx and never reaches Rasa
    assert requests.get(nginx.url + WEBHOOK, timeout=5).status_code == 405
    assert len(nginx.rasa.received()) == 1


def test_the_access_log_is_json_without_query_strings(nginx):
    assert requests.get(f"{nginx.url}/widget.js?customer_token=secret-in-a-query", timeout=5).status_code == 200
    deadline = time.monotonic() + 5
    while "widget.js" not in (nginx.tmp / "stdout.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [json.loads(line) for line in (nginx.tmp / "stdout.log").read_text().splitlines() if line.strip()]
    line = [entry for entry in lines if entry["path"] == "/widget.js"][-1]
    assert line["method"] == "GET" and line["status"] == 200 and line["bytes"] > 0
    assert "secret-in-a-query" not in (nginx.tmp / "stdout.log").read_text()


def test_the_upstream_placeholder_must_be_set(tmp_path):
    """An operator who forgets ${RASA_UPSTREAM} gets an nginx that refuses to start, not one that serves a dead chat."""
    if NGINX is None:
        pytest.fail(INSTALL_HINT)
    conf = CONF.read_text().replace("listen 8080;", f"listen 127.0.0.1:{free_port()};")
    (tmp_path / "webchat.conf").write_text(conf.replace("root /usr/share/nginx/larkspur-webchat;", f"root {WEBCHAT};"))
    (tmp_path / "nginx.conf").write_text(main_conf(tmp_path, tmp_path / "webchat.conf"))
    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode != 0
    assert "RASA_UPSTREAM" in check.stderr


def test_nginx_stops_by_its_pid(nginx):
    pid = nginx.pid()
    assert pid == nginx.proc.pid  # no daemon: the process the test started is the master
    os.kill(pid, signal.SIGTERM)
    assert nginx.proc.wait(15) == 0
    assert not (nginx.tmp / "nginx.pid").exists()  # nginx removes its pid file on a clean exit
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{nginx.url}/health", timeout=2)
