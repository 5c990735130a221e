"""A store's calls retried while its server cannot be reached, for a bounded time.

A PostgreSQL or Redis restart takes a few seconds. Without retries every turn in those seconds fails: Redis
down, Rasa answers HTTP 500 (`LockError`); PostgreSQL down, Rasa's `FailSafeTrackerStore` keeps the turn's
events in the replica's memory only, and they never reach the database. `ServerRetry` repeats a call that
failed because the connection was refused or broke, with a short, growing, jittered pause (tenacity), until it
succeeds or `seconds` have passed; then the last error goes up as before. Errors that say something about the
request itself (a bad query, a script error) are not retried.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import tenacity

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

FIRST_PAUSE_SECONDS = 0.05
LONGEST_PAUSE_SECONDS = 1.0


class ServerRetry:
    """Retries an awaitable call on the errors `unreachable` accepts, for at most `seconds` in all.

    `before_retry(error)` runs before each pause (a tracker store drops its pooled connections there, which
    a restarted server no longer knows). `seconds=0` turns retrying off.
    """

    def __init__(
        self,
        name: str,
        unreachable: Callable[[BaseException], bool],
        seconds: float,
        before_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        if seconds < 0:
            raise ValueError(f"{name} retry_seconds must be 0 or more, got {seconds}")
        self.name = name
        self.seconds = float(seconds)
        self._unreachable = unreachable
        self._before_retry = before_retry

    async def run(self, call: Callable[[], Awaitable[Result]]) -> Result:
        """`call()`'s result, calling it again while its server cannot be reached (up to `seconds`)."""
        if self.seconds == 0:
            return await call()
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(self._unreachable),
            stop=tenacity.stop_after_delay(self.seconds),
            wait=tenacity.wait_exponential_jitter(
                multiplier=FIRST_PAUSE_SECONDS, max=LONGEST_PAUSE_SECONDS, jitter=FIRST_PAUSE_SECONDS
            ),
            before_sleep=self._note,
            reraise=True,
        )

        async def attempt() -> Result:  # tenacity awaits only what a coroutine function returns
            return await call()

        return await retrying(attempt)

    def _note(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            f"{self.name}: server unreachable ({type(error).__name__}: {error}); retrying",
            extra={"attempt": state.attempt_number, "waited_s": round(state.seconds_since_start or 0.0, 3)},
        )
        if self._before_retry is not None and error is not None:
            self._before_retry(error)
