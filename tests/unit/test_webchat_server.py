"""The web chat's static server as a real process (`python -m webchat`) on a free port."""

from __future__ import annotations

import http.client
import json
import sys

import pytest
import requests

from channels.sessions import SessionSettings, random_enough, token_vouches_for
from tests.support.processes import Service, free_port
from webchat.server import Settings, config_js, new_session, normalise_rasa_url

RASA_URL = "http://127.0.0.1:5999"
SESSION_SECRET = "web-chat-session-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("webchat") / "webchat.log"
    port = free_port()
    service = Service(
        "webchat",
        [sys.executable, "-m", "webchat"],
        {"WEBCHAT_PORT": str(port), "RASA_PUBLIC_URL": RASA_URL + "/", "REST_SESSION_SECRET": SESSION_SECRET},
        log,
    )
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=30)
    yield base, service
    service.stop()


def raw_get(base: str, target: str) -> http.client.HTTPResponse:
    """A GET with the request target sent as is (requests would normalise `..` away)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", target)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_a_session_is_a_fresh_sender_with_a_token_the_rest_webhook_accepts(server):
    base, _ = server
    first, second = (requests.get(f"{base}/session", timeout=5) for _ in range(2))
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    one, two = first.json(), second.json()
    assert one["sender"] != two["sender"] and random_enough(one["sender"])
    settings = SessionSettings.from_env({"REST_SESSION_SECRET": SESSION_SECRET})
    assert token_vouches_for(one["session_token"], one["sender"], settings)
    assert not token_vouches_for(one["session_token"], two["sender"], settings)


def test_no_sessions_without_a_secret():
    status, body = new_session(SessionSettings.from_env({}))
    assert status == 404 and json.loads(body)["error"]["code"] == "no_sessions"


def test_health(server):
    base, _ = server
    response = requests.get(f"{base}/health", timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["Content-Type"].startswith("application/json")


def test_config_js_points_the_widget_at_rasa(server):
    base, _ = server
    response = requests.get(f"{base}/config.js", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    prefix = "window.LARKSPUR_CHAT_CONFIG = "
    assert response.text.startswith(prefix) and response.text.rstrip().endswith(";")
    assert json.loads(response.text.strip()[len(prefix) : -1]) == {"rasaUrl": RASA_URL}


def test_config_js_is_json_encoded_safely():
    text = config_js('http://example.com/a</script><script>alert(1)</script>"').decode()
    assert "</script>" not in text and "<" not in text
    payload = json.loads(text.strip()[len("window.LARKSPUR_CHAT_CONFIG = ") : -1])
    assert payload["rasaUrl"].endswith('alert(1)</script>"')


@pytest.mark.parametrize(
    "bad", ["javascript:alert(1)", "ftp://host", "127.0.0.1:5005", "http://h/x?y=1", "http://h/'; script-src *"]
)
def test_a_rasa_url_that_is_not_an_http_base_url_is_refused(bad):
    with pytest.raises(ValueError):
        normalise_rasa_url(bad)


def test_settings_defaults():
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.rasa_url) == ("127.0.0.1", 8080, "http://127.0.0.1:5005")


@pytest.mark.parametrize(
    "path,content_type",
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/widget.js", "text/javascript; charset=utf-8"),
        ("/widget.css", "text/css; charset=utf-8"),
    ],
)
def test_static_files_with_their_content_types_and_headers(server, path, content_type):
    base, _ = server
    response = requests.get(base + path, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert f"connect-src 'self' {RASA_URL}" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp


def test_index_loads_the_generated_config_and_the_widget(server):
    base, _ = server
    html = requests.get(base + "/", timeout=5).text
    assert '<script src="config.js"></script>' in html and '<script src="widget.js"></script>' in html


@pytest.mark.parametrize(
    "target",
    [
        "/../README.md",
        "/..%2fREADME.md",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e%2frequirements.txt",
        "//etc/passwd",
        "/webchat/../actions/base.py",
    ],
)
def test_path_traversal_is_refused(server, target):
    base, _ = server
    response = raw_get(base, target)
    assert response.status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/server.py",
        "/__main__.py",
        "/__init__.py",
        "/SERVER.PY",
        "/server.py%00.js",
        "/__pycache__/server.cpython-310.pyc",
        "/missing.js",
        "/.gitignore",
    ],
)
def test_python_sources_and_unknown_files_are_not_served(server, path):
    base, _ = server
    assert raw_get(base, path).status == 404


def test_no_directory_listing(server):
    base, _ = server
    for path in ("/tests/", "/__pycache__/", "/webchat/"):
        assert raw_get(base, path).status == 404


def test_only_get_and_head(server):
    base, _ = server
    assert requests.head(f"{base}/widget.js", timeout=5).status_code == 200
    response = requests.post(f"{base}/index.html", data="x", timeout=5)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"


def test_one_json_log_line_per_request(server):
    base, service = server
    requests.get(f"{base}/widget.css?customer_token=secret-value", timeout=5)
    lines = service.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    mine = [r for r in records if r.get("path") == "/widget.css" and r.get("message") == "request"]
    assert mine and mine[-1]["status"] == 200 and mine[-1]["method"] == "GET" and "duration_ms" in mine[-1]
    assert "secret-value" not in "\n".join(lines)  # query strings (tokens) are never logged
