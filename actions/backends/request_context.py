"""The request id of the work in progress, forwarded to every backend call and written in every log line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str:
    """The id set by the caller (an action run), or a fresh one for a lone call."""
    return _request_id.get() or uuid.uuid4().hex


@contextmanager
def request_id(value: str | None = None) -> Iterator[str]:
    """Tag all backend calls made inside the block with one request id."""
    rid = value or uuid.uuid4().hex
    token = _request_id.set(rid)
    try:
        yield rid
    finally:
        _request_id.reset(token)
