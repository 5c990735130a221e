"""With the default breaker settings, a backend that answered garbage is used again within the recovery target.

`make chaos`'s "shop-garbage" fault (docs/reliability.md): the backend clients open their breakers while the
demo shop answers 200 with a body that is not JSON; once it answers properly again, shoppers must get normal
answers within 10 s. A real demo shop behind a real fault gate (chaos/fault_gate.py).
"""

from __future__ import annotations

import sys
import time

import pytest
import requests

from actions.backends import OrdersClient
from actions.backends.errors import CircuitOpen, Unavailable
from actions.backends.http import HttpCore
from actions.backends.settings import SystemSettings
from foundation.local_servers import start_demoshop
from foundation.processes import ChildProcess, free_port

RECOVERY_TARGET_SECONDS = 10.0


@pytest.fixture
def gated_shop(tmp_path):
    shop, base = start_demoshop(tmp_path)
    port = free_port()
    gate = ChildProcess(
        "shop-gate",
        [sys.executable, "-m", "chaos.fault_gate", "--port", str(port), "--upstream", base],
        log_path=tmp_path / "gate.log",
    )
    gate_url = f"http://127.0.0.1:{port}"
    gate.wait_http(f"{gate_url}/__fault__", timeout=30)
    yield gate_url
    gate.stop()
    shop.stop()


def test_a_healed_backend_is_called_again_within_the_recovery_target(gated_shop):
    settings = SystemSettings.from_env("orders", {"ORDERS_BASE_URL": gated_shop, "ORDERS_API_KEY": "test-key"})
    orders = OrdersClient(HttpCore(settings))
    assert orders.get_order("10001").id == "10001"

    requests.put(f"{gated_shop}/__fault__", json={"garbage": True}, timeout=5).raise_for_status()
    for _ in range(settings.breaker_fail_max):
        with pytest.raises(Unavailable):
            orders.get_order("10001")
    assert orders.core.breaker.current_state == "open"
    with pytest.raises(CircuitOpen):  # open: the failing shop is not called
        orders.get_order("10001")

    requests.put(f"{gated_shop}/__fault__", json={}, timeout=5).raise_for_status()
    healed = time.monotonic()
    while True:  # a shopper asking every 0.2 s, as make chaos's shoppers do
        try:
            assert orders.get_order("10001").id == "10001"
            break
        except CircuitOpen:
            assert time.monotonic() - healed < RECOVERY_TARGET_SECONDS, "the breaker stayed open past the target"
            time.sleep(0.2)
    assert time.monotonic() - healed < RECOVERY_TARGET_SECONDS
    assert orders.core.breaker.current_state == "closed"
