"""One audit record and its hash: sha256 of the canonical JSON (sorted keys) of the record, `prev_hash` included."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

# The `prev_hash` of the first record of a chain.
GENESIS_HASH = "0" * 64
# How `recorded_at` is written: UTC, microseconds, a trailing Z; so the text sorts as the time does.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# What became of a change: done, refused by the system in its current state, or not confirmed (the system failed).
OUTCOMES = ("succeeded", "refused", "failed")


def utc_now_text() -> str:
    """This moment as `recorded_at` holds it."""
    return datetime.now(timezone.utc).strftime(TIME_FORMAT)


def time_text(moment: datetime) -> str:
    """A moment (naive means UTC) as `recorded_at` holds it, for comparisons with stored times."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime(TIME_FORMAT)


def canonical_json(value: Any) -> str:
    """The one JSON text of a value that is hashed: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Change:
    """A change as the action server saw it, before the store gives it its place in the chain.

    `record_id` is unique per change, so a change appended twice (from the spool after a crash) is kept once.
    """

    customer_id: str | None
    channel: str | None
    conversation: str
    what: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    idempotency_key: str | None
    outcome: str
    recorded_at: str = field(default_factory=utc_now_text)
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        """The change as a JSON-ready dict (the spool's line)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """The change a `to_json` dict describes."""
        return cls(**data)


@dataclass(frozen=True)
class AuditRecord:
    """A change in its place in the chain: its sequence number, the hash of the record before, its own hash."""

    seq: int
    change: Change
    prev_hash: str
    hash: str

    @classmethod
    def chained(cls, seq: int, change: Change, prev_hash: str) -> AuditRecord:
        """The record `change` becomes as number `seq` after a record whose hash is `prev_hash`."""
        return cls(seq, change, prev_hash, record_hash(seq, change, prev_hash))

    def hash_is_valid(self) -> bool:
        """Whether the stored hash is the hash of the stored content."""
        return self.hash == record_hash(self.seq, self.change, self.prev_hash)


def hashed_content(seq: int, change: Change, prev_hash: str) -> dict[str, Any]:
    """Everything a record's hash covers: every field but the hash itself."""
    return {
        "seq": seq,
        "record_id": change.record_id,
        "recorded_at": change.recorded_at,
        "who": {"customer_id": change.customer_id, "channel": change.channel, "conversation": change.conversation},
        "what": change.what,
        "before": change.before,
        "after": change.after,
        "idempotency_key": change.idempotency_key,
        "outcome": change.outcome,
        "prev_hash": prev_hash,
    }


def record_hash(seq: int, change: Change, prev_hash: str) -> str:
    """sha256 (hex) of the canonical JSON of the record's content, `prev_hash` included."""
    return hashlib.sha256(canonical_json(hashed_content(seq, change, prev_hash)).encode()).hexdigest()
