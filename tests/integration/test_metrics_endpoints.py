"""The demo shop and the web chat server as real processes serve `/metrics` on their own ports, and their
counters move by exactly the requests made."""

from __future__ import annotations

import sys

import pytest
import requests

from tests.support.metrics_scrape import moved, scrape
from tests.support.processes import Service, free_port, start_demoshop

pytestmark = pytest.mark.slow
SESSION_SECRET = "metrics-test-session-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    metrics_port = free_port()
    service, base = start_demoshop(
        tmp_path_factory.mktemp("shop-metrics"), env={"DEMOSHOP_METRICS_PORT": str(metrics_port)}
    )
    yield base, f"http://127.0.0.1:{metrics_port}/metrics"
    service.stop()


@pytest.fixture(scope="module")
def webchat(tmp_path_factory):
    port, metrics_port = free_port(), free_port()
    service = Service(
        "webchat",
        [sys.executable, "-m", "webchat"],
        {"WEBCHAT_PORT": str(port), "WEBCHAT_METRICS_PORT": str(metrics_port), "REST_SESSION_SECRET": SESSION_SECRET},
        tmp_path_factory.mktemp("webchat-metrics") / "webchat.log",
    )
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=30)
    yield base, f"http://127.0.0.1:{metrics_port}/metrics"
    service.stop()


def test_the_demo_shops_counters_move_by_its_requests_labelled_by_route_pattern(shop):
    base, metrics = shop
    auth = {"Authorization": "Bearer test-key"}
    order = requests.get(f"{base}/v1/orders", params={"limit": 1}, headers=auth, timeout=10).json()["orders"][0]["id"]
    before = scrape(metrics)
    for _ in range(3):
        assert requests.get(f"{base}/v1/orders/{order}", headers=auth, timeout=10).status_code == 200
    assert requests.get(f"{base}/v1/orders/{order}", timeout=10).status_code == 401
    assert requests.get(f"{base}/no-such-page", timeout=10).status_code == 404
    after = scrape(metrics)
    route = "/v1/orders/<order_id>"
    assert moved(before, after, "assistant_shop_requests_total", route=route, method="GET", status="200") == 3
    assert moved(before, after, "assistant_shop_requests_total", route=route, method="GET", status="401") == 1
    assert moved(before, after, "assistant_shop_requests_total", route="unmatched", method="GET", status="404") == 1
    assert moved(before, after, "assistant_shop_request_seconds_count", route=route) == 4
    assert moved(before, after, "assistant_shop_errors_total", route=route) == 0
    assert not any(order in str(labels) for _, labels in after)  # no order id is a label


def test_the_web_chats_counters_move_by_its_requests_and_the_sessions_it_issued(webchat):
    base, metrics = webchat
    before = scrape(metrics)
    for _ in range(2):
        assert requests.get(f"{base}/session", timeout=5).status_code == 200
    assert requests.post(f"{base}/session", timeout=5).status_code == 405
    assert requests.get(f"{base}/widget.js", timeout=5).status_code == 200
    assert requests.get(f"{base}/no-such-file-4242.js", timeout=5).status_code == 404
    after = scrape(metrics)
    assert moved(before, after, "assistant_webchat_sessions_issued_total") == 2
    assert moved(before, after, "assistant_webchat_requests_total", route="/session", status="200") == 2
    assert moved(before, after, "assistant_webchat_requests_total", route="/session", status="405") == 1
    assert moved(before, after, "assistant_webchat_requests_total", route="static", status="200") == 1
    assert moved(before, after, "assistant_webchat_requests_total", route="unmatched", status="404") == 1
    assert not any("4242" in str(labels) for _, labels in after)
