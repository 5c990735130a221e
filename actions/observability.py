"""Metrics of the action server (Prometheus) and the conversation reference its log lines carry instead of raw
sender ids; the JSON log set-up itself is foundation/logging.py, the keyed reference foundation/conversation_ref.py."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from foundation import conversation_ref as refs

ACTION_LATENCY = Histogram(
    "assistant_action_seconds",
    "Time to run one custom action, backend calls included, by action and outcome.",
    ["action", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HANDOFFS = Counter("assistant_handoffs_total", "Conversations handed to a human, by reason.", ["reason"])
FALLBACKS = Counter("assistant_fallbacks_total", "Messages the assistant did not understand, by stage.", ["stage"])


def conversation_ref(sender_id: str) -> str:
    """A stable id for a conversation that does not reveal it: sender ids can be phone numbers or emails, so it is
    a keyed hash (`CONVERSATION_REF_SECRET`), the same one the Rasa server's logs use."""
    return refs.conversation_ref(sender_id)
