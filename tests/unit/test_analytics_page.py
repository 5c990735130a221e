"""The report page (analytics/access.py, page.py, server.py): the operator's token is required (missing, wrong and
right token; no token configured fails closed), the rendering is cached a few seconds, and the page's CSP allows
exactly its own stylesheet."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
import requests

from analytics.access import Access, check, presented_token
from analytics.page import PageCache
from analytics.server import ReportServer, content_security_policy
from analytics.summary import Summary

TOKEN = "operator-token-0123456789abcdef"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "header, verdict",
    [
        (None, Access.REFUSED),
        ("", Access.REFUSED),
        ("Bearer", Access.REFUSED),
        ("Bearer wrong-token", Access.REFUSED),
        (f"Bearer {TOKEN}x", Access.REFUSED),
        (basic("operator", "wrong"), Access.REFUSED),
        (basic(TOKEN, ""), Access.REFUSED),  # the token as the user name is not the password
        ("Basic not-base64!", Access.REFUSED),
        (f"Token {TOKEN}", Access.REFUSED),
        (f"Bearer {TOKEN}", Access.ALLOWED),
        (f"bearer  {TOKEN} ", Access.ALLOWED),
        (basic("anyone", TOKEN), Access.ALLOWED),
    ],
)
def test_only_the_operators_token_opens_the_page(header, verdict):
    assert check(header, TOKEN) is verdict


def test_with_no_token_configured_nothing_opens_the_page():
    assert check(f"Bearer {TOKEN}", "") is Access.NOT_CONFIGURED
    assert check(basic("x", ""), "") is Access.NOT_CONFIGURED
    assert presented_token("Bearer ") is None


class Renders:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> tuple[str, Summary]:
        self.count += 1
        return f"<style>p{{}}</style><p>rendering {self.count}</p>", Summary()


def test_the_page_is_rendered_again_only_once_it_is_older_than_its_time_to_live():
    now = [100.0]
    renders = Renders()
    cache = PageCache(renders, ttl_seconds=5, clock=lambda: now[0])
    assert "rendering 1" in cache.get().html
    now[0] += 4.9
    assert "rendering 1" in cache.get().html and renders.count == 1
    now[0] += 0.1
    assert "rendering 2" in cache.get().html and renders.count == 2
    assert PageCache(renders, ttl_seconds=0).get().html != PageCache(renders, ttl_seconds=0).get().html


def test_the_csp_allows_the_pages_own_stylesheet_by_hash_and_nothing_else():
    html = "<html><style>body { color: red; }</style></html>"
    digest = base64.b64encode(hashlib.sha256(b"body { color: red; }").digest()).decode()
    policy = content_security_policy(html)
    assert f"style-src 'sha256-{digest}';" in policy
    assert "default-src 'none'" in policy and "img-src data:" in policy and "script-src" not in policy
    assert "unsafe-inline" not in policy


@pytest.fixture
def serve():
    servers = []

    def start(token: str) -> str:
        server = ReportServer("127.0.0.1", 0, PageCache(Renders(), ttl_seconds=60), token).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.stop()


def test_the_server_refuses_without_the_token_and_serves_with_it(serve):
    url = serve(TOKEN)
    refused = requests.get(f"{url}/report", timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic ")
    assert "rendering" not in refused.text
    assert requests.get(f"{url}/report", headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
    page = requests.get(f"{url}/report", auth=("operator", TOKEN), timeout=5)
    assert page.status_code == 200 and "rendering 1" in page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Content-Type-Options"] == "nosniff"
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", page.headers["Content-Security-Policy"])
    again = requests.get(f"{url}/report", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert "rendering 1" in again.text  # cached
    assert requests.get(f"{url}/health", timeout=5).json() == {"status": "ok", "report": "on"}
    assert requests.get(f"{url}/elsewhere", auth=("operator", TOKEN), timeout=5).status_code == 404
    assert requests.post(f"{url}/report", auth=("operator", TOKEN), timeout=5).status_code == 405


def test_the_server_fails_closed_with_no_token_configured_and_says_why(serve, caplog):
    url = serve("")
    answer = requests.get(f"{url}/report", headers={"Authorization": "Bearer "}, timeout=5)
    assert answer.status_code == 503 and "REPORT_TOKEN is not set" in answer.text
    assert "rendering" not in answer.text
    assert any("REPORT_TOKEN is not set" in record.getMessage() for record in caplog.records)
    assert requests.get(f"{url}/health", timeout=5).json()["report"] == "off"
