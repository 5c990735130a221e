"""The analytics store's tables: conversations, their turns, the events already counted, the consumers' offsets.

Each record is a plain dataclass (typed for mypy, usable without a database in tests) mapped onto its table
imperatively. No column holds a sender id (a conversation is its HMAC reference, foundation/conversation_ref.py)
and every text went through foundation/pii.py first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Boolean, Column, Date, Float, ForeignKey, Integer, MetaData, String, Table, Text
from sqlalchemy.orm import registry

METADATA = MetaData()
_REGISTRY = registry(metadata=METADATA)

CONVERSATIONS = Table(
    "analytics_conversations",
    METADATA,
    Column("ref", String(32), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("day", Date, nullable=True),
    Column("started_at", Float, nullable=True),
    Column("last_event_at", Float, nullable=True),
    Column("turns", Integer, nullable=False),
    Column("fallbacks", Integer, nullable=False),
    Column("clarifications", Integer, nullable=False),
    Column("handed_off", Boolean, nullable=False),
    Column("handoff_reason", String(64), nullable=True),
    Column("last_step", String(128), nullable=True),
    Column("requested_slot", String(64), nullable=True),
    Column("pending", String(64), nullable=True),
    Column("offered_reason", String(64), nullable=True),
    Column("handoff_running", Boolean, nullable=False),
    Column("csat", Integer, nullable=True),
)
TURNS = Table(
    "analytics_turns",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_ref", String(32), ForeignKey("analytics_conversations.ref"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("day", Date, nullable=False),
    Column("user_at", Float, nullable=False),
    Column("intent", String(128), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("text", Text, nullable=True),
    Column("fallback", String(8), nullable=True),
    Column("clarified", Boolean, nullable=False),
    Column("handoff_reason", String(64), nullable=True),
    Column("bot_messages", Integer, nullable=False),
    Column("last_bot_at", Float, nullable=True),
    Column("latency_seconds", Float, nullable=True),
    Column("csat_answer", Boolean, nullable=True),  # added after the first release: AnalyticsStore adds it
)
COUNTED_EVENTS = Table("analytics_counted_events", METADATA, Column("key", String(64), primary_key=True))
SOURCE_OFFSETS = Table(
    "analytics_source_offsets",
    METADATA,
    Column("source", String(255), primary_key=True),
    Column("position", Integer, nullable=False),
)


@dataclass
class Conversation:
    """One conversation: where it came from, how it went, and where it stands now (what its next event needs)."""

    ref: str  # conversation_ref(sender id), never the id itself
    channel: str
    day: date | None = None  # the day (UTC) of its first shopper message
    started_at: float | None = None
    last_event_at: float | None = None
    turns: int = 0
    fallbacks: int = 0
    clarifications: int = 0
    handed_off: bool = False
    handoff_reason: str | None = None
    last_step: str | None = None  # the last thing the assistant did: a response or an action
    # Where the dialogue stands, read by the next events: the slot the form asks for, a pending offer or
    # confirmation, the reason a handoff was offered for, and whether action_handoff has just run.
    requested_slot: str | None = None
    pending: str | None = None
    offered_reason: str | None = None
    handoff_running: bool = False
    csat: int | None = None  # the shopper's rating 1-5 (slot csat_rating), None until they give one


@dataclass
class Turn:
    """One shopper message and the assistant's answer to it."""

    conversation_ref: str
    number: int  # 1 for the conversation's first message
    channel: str
    day: date
    user_at: float
    intent: str | None = None
    confidence: float | None = None
    text: str | None = None  # redacted (foundation/pii.py)
    fallback: str | None = None  # "nlu" or "core", as the Rasa server's metrics count them
    clarified: bool = False
    handoff_reason: str | None = None  # set when this turn handed the conversation to a person
    bot_messages: int = 0
    last_bot_at: float | None = None
    latency_seconds: float | None = None  # user message to the turn's last bot message
    csat_answer: bool | None = False  # the message answered a CSAT question (analytics/mapping.py)
    id: int | None = None


@dataclass
class CountedEvent:
    """An event already counted, by its key (analytics/mapping.py, `event_key`): a redelivery is skipped."""

    key: str


@dataclass
class SourceOffset:
    """How far a consumer has read its source (the SQL broker's last row id), so the next run goes on from there."""

    source: str
    position: int


_REGISTRY.map_imperatively(Conversation, CONVERSATIONS)
_REGISTRY.map_imperatively(Turn, TURNS)
_REGISTRY.map_imperatively(CountedEvent, COUNTED_EVENTS)
_REGISTRY.map_imperatively(SourceOffset, SOURCE_OFFSETS)
