"""Logs and metrics of the action server: JSON log lines without raw PII, Prometheus metrics."""

from __future__ import annotations

import hashlib
import logging
import sys

from prometheus_client import Counter, Histogram
from pythonjsonlogger.json import JsonFormatter

ACTION_LATENCY = Histogram(
    "assistant_action_seconds",
    "Time to run one custom action, backend calls included, by action and outcome.",
    ["action", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HANDOFFS = Counter("assistant_handoffs_total", "Conversations handed to a human, by reason.", ["reason"])
FALLBACKS = Counter("assistant_fallbacks_total", "Messages the assistant did not understand, by stage.", ["stage"])


def conversation_ref(sender_id: str) -> str:
    """A stable, non-reversible id for a conversation: sender ids can be phone numbers or emails."""
    return hashlib.sha256(sender_id.encode()).hexdigest()[:16]


def configure_json_logging(level: str = "INFO") -> None:
    """Send every log line of this process to stdout as JSON, Python warnings included."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
