"""A store's calls retried while its server cannot be reached, for a bounded time.

A PostgreSQL or Redis restart takes a few seconds. Without retries every turn in those seconds fails: Redis
down, Rasa answers HTTP 500 (`LockError`); PostgreSQL down, Rasa's `FailSafeTrackerStore` keeps the turn's
events in the replica's memory only, and they never reach the database. `ServerRetry` repeats a call that
failed because the connection was refused or broke, with a short, growing, jittered pause (tenacity), until it
succeeds or `seconds` have passed; then the last error goes up as before. Errors that say something about the
request itself (a bad query, a script error) are not retried.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
        """`call()`'s result, calling it again while its server cannot be reached (up to `seconds`).

        The first attempt is a plain call: nearly every call succeeds at once, and tenacity's machinery costs a
        replica several percent of its CPU per turn. Only a first failure that `unreachable` accepts goes on to
        the retries, within what is left of `seconds`.
        """
        started = time.monotonic()
        try:
            return await call()
        except BaseException as error:
            if self.seconds == 0 or not self._unreachable(error):
                raise
            self._note_failure(error, attempt=1, waited=time.monotonic() - started)
        await asyncio.sleep(FIRST_PAUSE_SECONDS)
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(self._unreachable),
            stop=tenacity.stop_after_delay(max(0.0, self.seconds - (time.monotonic() - started))),
            wait=tenacity.wait_exponential_jitter(
                multiplier=FIRST_PAUSE_SECONDS * 2, max=LONGEST_PAUSE_SECONDS, jitter=FIRST_PAUSE_SECONDS
            ),
            before_sleep=self._note,
            reraise=True,
        )

        async def attempt() -> Result:  # tenacity awaits only what a coroutine function returns
            return await call()

        return await retrying(attempt)

    def _note(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is not None:
            self._note_failure(error, attempt=state.attempt_number + 1, waited=state.seconds_since_start or 0.0)

    def _note_failure(self, error: BaseException, *, attempt: int, waited: float) -> None:
        """Log the failed attempt and let the store drop what the restarted server no longer knows."""
        logger.warning(
            f"{self.name}: server unreachable ({type(error).__name__}: {error}); retrying",
            extra={"attempt": attempt, "waited_s": round(waited, 3)},
        )
        if self._before_retry is not None:
            self._before_retry(error)
