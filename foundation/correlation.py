"""The correlation id: one id per shopper message, carried by every process that works on it, in every log line.

A message gets its id where it enters (a channel of the Rasa process): the caller's `X-Request-ID` when it is a
usable one, else a new uuid4 hex. The channel puts it in the message's metadata (`correlation_id`), so Rasa keeps
it with the user's event and the action server reads it from the tracker's latest message; the backend clients
send it as `X-Request-ID`, the demo shop takes it from there, and a handoff ticket records it.

Inside a process it lives in a context variable: asyncio tasks (and `asyncio.to_thread`) inherit it, so whatever
runs for the message sees it. `CorrelationFilter` writes it into every log record as `correlation_id`
(foundation/logging.py installs it), null outside any message.

An incoming id is kept only when it is 8 to 128 characters of `[A-Za-z0-9._-]` and the log masking
(foundation/redaction.py) would leave it as it is, so the id one searches the logs for is the id that was sent.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from foundation import redaction

HEADER = "X-Request-ID"
METADATA_KEY = "correlation_id"
LOG_FIELD = "correlation_id"
ACCEPTED = re.compile(r"[A-Za-z0-9._-]{8,128}")

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def new() -> str:
    """A fresh correlation id (uuid4 hex), for a message that arrives without a usable one."""
    return uuid.uuid4().hex


def valid(value: object) -> bool:
    """Whether `value` may serve as a correlation id: 8 to 128 of `[A-Za-z0-9._-]`, unchanged by log masking."""
    return (
        isinstance(value, str) and ACCEPTED.fullmatch(value) is not None and redaction.redact_log_text(value) == value
    )


def accept(value: object) -> str:
    """The id to carry for an incoming one: `value` when it is valid, else a new one (a bad id is ignored)."""
    return value if isinstance(value, str) and valid(value) else new()


def from_metadata(metadata: Mapping[str, Any] | None) -> str | None:
    """The valid correlation id a message's metadata carries, or None."""
    value = (metadata or {}).get(METADATA_KEY)
    return value if valid(value) else None


def get() -> str | None:
    """The correlation id of the work in progress, None outside any message."""
    return _current.get()


def set(value: str) -> Token[str | None]:
    """Make `value` the id of the work in progress; `reset` with the token ends it."""
    return _current.set(value)


def reset(token: Token[str | None]) -> None:
    """Give back the id that was current before the `set` that returned `token`."""
    _current.reset(token)


@contextmanager
def bound(value: str) -> Iterator[str]:
    """`value` is the id of the work in progress inside the block (and of the tasks the block starts)."""
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


class CorrelationFilter(logging.Filter):
    """Adds `correlation_id` (the current id, or None) to every record, so every JSON line has the key.

    A record that already carries one (logged with `extra={"correlation_id": ...}`) keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, LOG_FIELD, None) is None:
            setattr(record, LOG_FIELD, _current.get())
        return True
