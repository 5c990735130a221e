"""Run a custom action the way the action server does: a rasa-sdk Tracker, a dispatcher, the domain."""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from pathlib import Path
from typing import Any

import yaml
from rasa.core.nlg.interpolator import interpolate
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

REPO = Path(__file__).resolve().parents[2]
# A `{variable}` of a response, as Rasa's interpolator finds it.
VARIABLE = re.compile(r"{([^\n{}]+?)}")
DOMAIN: dict[str, Any] = yaml.safe_load((REPO / "domain.yml").read_text())
# Rasa sends the action server its domain with the retrieval responses of data/responses/ merged in.
for _responses in sorted((REPO / "data" / "responses").glob("*.yml")):
    DOMAIN["responses"].update(yaml.safe_load(_responses.read_text()).get("responses") or {})


def user_event(text: str, intent: str, entities: list[dict] | None = None, metadata: dict | None = None) -> dict:
    return {
        "event": "user",
        "text": text,
        "timestamp": 1.0,
        "metadata": metadata or {},
        "parse_data": {"intent": {"name": intent, "confidence": 0.99}, "entities": entities or [], "text": text},
    }


def entity(name: str, value: str, text: str) -> dict:
    start = text.find(value)
    return {"entity": name, "value": value, "start": start, "end": start + len(value), "extractor": "test"}


def make_tracker(
    text: str = "",
    intent: str = "inform",
    *,
    slots: dict[str, Any] | None = None,
    entities: list[dict] | None = None,
    metadata: dict | None = None,
    history: list[dict] | None = None,
    active_loop: str | None = None,
    sender_id: str | None = None,
) -> Tracker:
    """A tracker whose latest event is the shopper's message `text`, after `history`."""
    latest = user_event(text, intent, entities, metadata)
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update(slots or {})
    return Tracker(
        sender_id=sender_id or f"test-{uuid.uuid4().hex[:8]}",
        slots=all_slots,
        latest_message={**latest["parse_data"], "metadata": latest["metadata"]},
        events=[*(history or []), latest],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action: Action, tracker: Tracker) -> tuple[list[dict], list[dict]]:
    """(messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, events


# The parts of a response Rasa fills with variables (rasa.core.nlg.response.TemplatedNaturalLanguageGenerator).
FILLED_KEYS = ("text", "image", "custom", "buttons", "attachment", "quick_replies")


def render(message: dict) -> dict:
    """A message of the dispatcher as Rasa hands it to the channel.

    A `response` message becomes the response's first variant in DOMAIN, filled with the message's keyword
    variables by Rasa's own interpolator; buttons the action adds are appended and any other value it sets
    wins, as Rasa's RemoteAction does. A variable the message does not pass fails here: Rasa would send the
    response with its `{placeholders}` unfilled.
    """
    message = dict(message)
    name = message.pop("response", None)
    message.pop("template", None)
    draft: dict[str, Any] = {}
    if name:
        variants = DOMAIN["responses"].get(name)
        assert variants, f"the domain has no response {name}"
        draft = copy.deepcopy(variants[0])
        for key in FILLED_KEYS:
            if key in draft:
                missing = [v for v in variables_in(draft[key]) if v not in message]
                assert not missing, f"{name} needs the variables {missing}, which the action did not pass"
                draft[key] = interpolate(draft[key], message)
    buttons = message.pop("buttons", None) or []
    if buttons:
        draft["buttons"] = list(draft.get("buttons") or []) + buttons
    draft.update({key: value for key, value in message.items() if value})
    return draft


def variables_in(part: Any) -> list[str]:
    """The `{variable}` names in a part of a response (its text, or its buttons' titles and payloads).

    Only names: the JSON of a payload such as `/inform{"order_id":"10001"}` is no variable, and Rasa leaves it.
    """
    if isinstance(part, str):
        return [name for name in VARIABLE.findall(part) if name.isidentifier()]
    if isinstance(part, dict):
        part = list(part.values())
    return [name for item in part for name in variables_in(item)] if isinstance(part, list) else []


def texts(messages: list[dict]) -> str:
    """What the shopper reads, one message a line: `text` messages as they are, responses rendered."""
    return "\n".join(render(m).get("text") or "" for m in messages)


def slot_events(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
