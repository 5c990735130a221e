"""Replies that survive the platform: a send the platform refuses (5xx, 429) or cannot be reached for is retried.

Every connector's output sends each reply through `deliver`: bounded attempts (`CHANNEL_SEND_MAX_ATTEMPTS`) with
exponential backoff and jitter (tenacity; `CHANNEL_SEND_BACKOFF_INITIAL` doubling up to `CHANNEL_SEND_BACKOFF_MAX`),
a 429's `Retry-After` waited out in full (one longer than `CHANNEL_SEND_RETRY_AFTER_MAX` ends the attempts), and any
other 4xx never retried. Each failed attempt is one JSON log line (channel, conversation ref, attempt, status),
never the reply's text or the shopper's id (the conversation is its keyed ref); a reply that finally could not be
delivered is logged at error level and counted in `assistant_channel_delivery_failures_total{channel}`. `deliver`
never raises for a platform failure, so the turn that produced the reply is saved whatever the platform did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp
from prometheus_client import Counter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from channels.common import ChannelSettings
from foundation.conversation_ref import conversation_ref  # the action server's logs use the same keyed ref

log = logging.getLogger("channels.delivery")

DELIVERY_FAILURES = Counter(
    "assistant_channel_delivery_failures_total",
    "Replies the platform's API never accepted, after every attempt.",
    ["channel"],
)
UNREACHABLE = "unreachable"  # the status logged when no HTTP answer came (refused, reset, timed out)


class SendRefused(Exception):
    """The platform's API answered a send with an error status (`retry_after`: its Retry-After, in seconds)."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"the platform answered {status}")
        self.status = status
        self.retry_after = retry_after


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """A `Retry-After` header in seconds (it is either a number of seconds or an HTTP date); None when absent or
    unreadable."""
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def retryable(error: BaseException) -> bool:
    """Whether another attempt can help: a 5xx or 429 answer, or no answer at all; never another 4xx."""
    if isinstance(error, SendRefused):
        return error.status == 429 or error.status >= 500
    return isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, OSError))


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard a reply is pushed through: attempts, backoff and the longest Retry-After waited out."""

    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0

    @classmethod
    def from_settings(cls, settings: ChannelSettings | None = None) -> DeliveryPolicy:
        """The policy the process's `CHANNEL_SEND_*` variables describe."""
        settings = settings or ChannelSettings.current()
        return cls(
            max_attempts=settings.channel_send_max_attempts,
            backoff_initial=settings.channel_send_backoff_initial,
            backoff_max=settings.channel_send_backoff_max,
            retry_after_max=settings.channel_send_retry_after_max,
        )

    def wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, but never sooner than the platform's Retry-After."""
        backoff = wait_exponential_jitter(
            initial=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )(state)
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, SendRefused) else None
        return backoff if retry_after is None else max(backoff, retry_after)

    def stop(self, state: RetryCallState) -> bool:
        """Out of attempts, or asked to wait longer than `retry_after_max`."""
        error = state.outcome.exception() if state.outcome else None
        too_long = isinstance(error, SendRefused) and (error.retry_after or 0.0) > self.retry_after_max
        return too_long or stop_after_attempt(self.max_attempts)(state)


def status_of(error: BaseException) -> int | str:
    """What a failed attempt's log line calls its outcome: the HTTP status, or `unreachable`."""
    return error.status if isinstance(error, SendRefused) else UNREACHABLE


async def deliver(
    channel: str, conversation: str, send: Callable[[], Awaitable[object]], policy: DeliveryPolicy | None = None
) -> bool:
    """Run `send` (one HTTP call to the platform, raising SendRefused or a connection error) until it succeeds or
    the policy gives up. True when the platform accepted the reply; False (logged, counted) when it never did."""
    policy = policy or DeliveryPolicy.from_settings()
    ref = conversation_ref(conversation)
    retrying = AsyncRetrying(
        stop=policy.stop, wait=policy.wait, retry=retry_if_exception(retryable), reraise=True, sleep=asyncio.sleep
    )
    attempt_number = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempt_number = attempt.retry_state.attempt_number
                try:
                    await send()
                except Exception as error:
                    log.warning(
                        "channel send failed",
                        extra={
                            "channel": channel,
                            "conversation": ref,
                            "attempt": attempt_number,
                            "status": status_of(error),
                            "error": type(error).__name__,
                            "retryable": retryable(error),
                        },
                    )
                    raise
    except Exception as error:
        DELIVERY_FAILURES.labels(channel=channel).inc()
        log.error(
            "channel reply not delivered",
            extra={"channel": channel, "conversation": ref, "attempts": attempt_number, "status": status_of(error)},
        )
        return False
    return True
