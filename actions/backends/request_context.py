"""The id the backend calls forward as `X-Request-ID`: the message's correlation id (foundation/correlation.py).

The action server binds it from the tracker's latest message before an action runs (actions/server.py), so every
backend call of that run, and every log line, carries the id the channel gave the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from foundation import correlation


def current_request_id() -> str:
    """The correlation id of the work in progress, or a fresh one for a lone call outside any message."""
    return correlation.get() or correlation.new()


@contextmanager
def request_id(value: str | None = None) -> Iterator[str]:
    """Tag all backend calls made inside the block with one id: the message's correlation id when one is bound,
    else `value` when it is a valid one (an action run outside the action server, a script), else a fresh one."""
    with correlation.bound(correlation.get() or correlation.accept(value)) as rid:
        yield rid
