"""Run a custom action the way the action server does: a rasa-sdk Tracker, a dispatcher, the domain."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

REPO = Path(__file__).resolve().parents[2]
DOMAIN: Dict[str, Any] = yaml.safe_load((REPO / "domain.yml").read_text())
# Rasa sends the action server its domain with the retrieval responses of data/responses/ merged in.
for _responses in sorted((REPO / "data" / "responses").glob("*.yml")):
    DOMAIN["responses"].update(yaml.safe_load(_responses.read_text()).get("responses") or {})


def user_event(text: str, intent: str, entities: Optional[List[dict]] = None, metadata: Optional[dict] = None) -> dict:
    return {"event": "user", "text": text, "timestamp": 1.0, "metadata": metadata or {},
            "parse_data": {"intent": {"name": intent, "confidence": 0.99}, "entities": entities or [], "text": text}}


def entity(name: str, value: str, text: str) -> dict:
    start = text.find(value)
    return {"entity": name, "value": value, "start": start, "end": start + len(value), "extractor": "test"}


def make_tracker(text: str = "", intent: str = "inform", *, slots: Optional[Dict[str, Any]] = None,
                 entities: Optional[List[dict]] = None, metadata: Optional[dict] = None,
                 history: Optional[List[dict]] = None, active_loop: Optional[str] = None,
                 sender_id: Optional[str] = None) -> Tracker:
    """A tracker whose latest event is the shopper's message `text`, after `history`."""
    latest = user_event(text, intent, entities, metadata)
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update(slots or {})
    return Tracker(
        sender_id=sender_id or f"test-{uuid.uuid4().hex[:8]}",
        slots=all_slots,
        latest_message={**latest["parse_data"], "metadata": latest["metadata"]},
        events=list(history or []) + [latest],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action: Action, tracker: Tracker) -> Tuple[List[dict], List[dict]]:
    """(messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, events


def texts(messages: List[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def slot_events(events: List[dict]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
