"""The action server as the integration tests start it: a real process on a free loopback port, in front of a
demo shop, with a bearer token and no metrics port."""

from __future__ import annotations

import sys
from pathlib import Path

from foundation.processes import ChildProcess, free_port


def start_action_server(tmp: Path, shop_url: str, token: str) -> tuple[ChildProcess, int]:
    """Start `python -m actions` against the shop at `shop_url`; its process and port once /health answers.

    The caller stops the process (also when this raises: the process is stopped here before raising)."""
    port = free_port()
    env = {
        "ACTIONS_PORT": str(port),
        "ACTIONS_METRICS_PORT": "0",
        "ACTION_SERVER_TOKEN": token,
        "DEMOSHOP_URL": shop_url,
        "DEMOSHOP_API_KEY": "test-key",
    }
    actions = ChildProcess("actions", [sys.executable, "-m", "actions"], env, tmp / "actions.log")
    try:
        actions.wait_http(f"http://127.0.0.1:{port}/health", timeout=90)
    except BaseException:
        actions.stop()
        raise
    return actions, port
