"""Fixtures shared by all suites: the real services a test needs, started on free loopback ports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.support.postgres import PostgresServer
from tests.support.processes import start_demoshop

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
API_KEY = "test-key"
TESTS = Path(__file__).parent
# Suites whose every test starts real servers (demo shop, action server, Rasa, PostgreSQL, Redis, nginx,
# Chromium) or needs the trained model: all `slow`. A slow test elsewhere carries @pytest.mark.slow itself.
SLOW_SUITES = frozenset({"integration", "e2e", "browser", "channels"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow suites by folder, so `pytest -m "not slow"` (make test-fast) is a lane without services."""
    for item in items:
        if item.path.is_relative_to(TESTS) and item.path.relative_to(TESTS).parts[0] in SLOW_SUITES:
            item.add_marker(pytest.mark.slow)


class ShopApi:
    """A thin test-side HTTP helper for the demo shop (tests talk HTTP directly; actions never do)."""

    def __init__(self, base: str, key: str = API_KEY):
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self._taken: set = set()

    def get(self, path, **kw):
        return self.http.get(self.base + path, timeout=10, **kw)

    def post(self, path, json=None, key=None, **kw):
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.post(self.base + path, json=json, headers=headers, timeout=10, **kw)

    def put(self, path, json=None, key=None, **kw):
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.put(self.base + path, json=json, headers=headers, timeout=10, **kw)

    def patch(self, path, json=None, key=None, **kw):
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.patch(self.base + path, json=json, headers=headers, timeout=10, **kw)

    def find_order(self, status: str, predicate=lambda o: True) -> dict:
        """An order in `status` (newest first) that no earlier test changed and that fits `predicate`."""
        orders = self.get("/v1/orders", params={"status": status, "limit": 200}).json()["orders"]
        for order in orders:
            if order["id"] not in self._taken and predicate(order):
                self._taken.add(order["id"])
                return order
        raise LookupError(f"no untouched {status} order left in the seed data")


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def shop(request, tmp_path_factory):
    """The demo shop as a real process, once on SQLite and once on a real PostgreSQL."""
    tmp = tmp_path_factory.mktemp(f"shop-{request.param}")
    url = request.getfixturevalue("postgres").url if request.param == "postgresql" else None
    service, base = start_demoshop(tmp, database_url=url)
    yield ShopApi(base)
    service.stop()
