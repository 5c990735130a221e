"""The conversation scripts the serving benchmark replays (bench/conversations.yml), parsed and validated.

A script is a list of shopper turns; a conversation is one run of a script under its own sender id.
The mix is deterministic for a seed, so two runs (and ours vs the stock starter) get comparable load.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SCRIPTS = Path(__file__).with_name("conversations.yml")
ASSISTANTS = ("larkspur", "stock")


@dataclass(frozen=True)
class Turn:
    text: str
    expect: str = ""  # lower-case substring the reply must contain; "" = any non-error answer


@dataclass(frozen=True)
class Script:
    name: str
    turns: list[Turn]
    weight: int = 1
    token: str | None = None  # CRM customer id a signed customer token vouches for


@dataclass
class Conversation:
    sender: str
    script: Script
    metadata: dict = field(default_factory=dict)


def parse(document: dict) -> dict[str, list[Script]]:
    """Validate the YAML document: both assistants, named scripts, non-empty turns, positive weights."""
    scripts: dict[str, list[Script]] = {}
    for assistant in ASSISTANTS:
        entries = document.get(assistant)
        if not entries:
            raise ValueError(f"conversations: no scripts for {assistant!r}")
        parsed = []
        for entry in entries:
            turns = [Turn(str(t["text"]), str(t.get("expect") or "").lower()) for t in entry.get("turns") or []]
            if not entry.get("name") or not turns or any(not t.text.strip() for t in turns):
                raise ValueError(f"conversations: script {entry.get('name')!r} needs a name and non-empty turns")
            weight = int(entry.get("weight", 1))
            if weight < 1:
                raise ValueError(f"conversations: script {entry['name']!r} has weight {weight}")
            parsed.append(Script(entry["name"], turns, weight, entry.get("token")))
        scripts[assistant] = parsed
    return scripts


def load(path: Path = SCRIPTS) -> dict[str, list[Script]]:
    return parse(yaml.safe_load(path.read_text()))


def plan(scripts: list[Script], count: int, seed: int = 7, prefix: str = "bench") -> list[Conversation]:
    """`count` conversations drawn by weight, each with a unique sender id (trackers never collide).

    The ids are 24 bytes of the seeded generator, URL-safe, so the REST channel admits them (channels/sessions.py);
    `prefix` is mixed into the generator, so two runs with different prefixes never share a conversation.
    """
    rng = random.Random(seed)
    chosen = rng.choices(scripts, weights=[s.weight for s in scripts], k=count)
    ids = random.Random(f"{prefix}:{seed}")
    return [Conversation(base64.urlsafe_b64encode(ids.randbytes(24)).decode(), s) for s in chosen]


def attach_tokens(conversations: list[Conversation], issue) -> None:
    """Give each conversation whose script names a customer the metadata `{"customer_token": issue(id)}`."""
    for conversation in conversations:
        if conversation.script.token:
            conversation.metadata = {"customer_token": issue(conversation.script.token)}
