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
SLOW_SUITES = frozenset({"integration", "e2e", "browser", "channels", "fuzz"})


@pytest.fixture(scope="session", autouse=True)
def audit_trail_of_the_session(tmp_path_factory):
    """Every action the tests run, here or in an action server they start, writes its audit records to a file of
    this session, never to the repository's var/ or a store the environment names (a test may name its own)."""
    folder = tmp_path_factory.mktemp("audit")
    mp = pytest.MonkeyPatch()
    mp.setenv("AUDIT_DATABASE_URL", f"sqlite:///{folder / 'audit.sqlite'}")
    mp.setenv("AUDIT_SPOOL_PATH", str(folder / "spool.jsonl"))
    yield
    mp.undo()


@pytest.fixture(scope="session", autouse=True)
def no_abuse_limits_unless_a_test_sets_them():
    """The abuse limits (foundation/rate_limits.py) are off for the session, here and in the servers the tests
    start: many tests send codes to the same seeded email. tests/*/test_rate_limits.py turn them on."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RATE_LIMITS", "off")
    yield
    mp.undo()


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
