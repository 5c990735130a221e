"""Abuse limits shared by the Rasa server and the action server: their settings and one limiter per process.

The `limits` library counts the hits in a moving window, in memory by default (`memory://`: one process's own
counters) or in Redis (`RATE_LIMIT_STORAGE_URL=redis://...`), so that several Rasa replicas and the action
server share the same counters. Each limit is written in the library's notation ("30/minute", "3 per 15
minutes"); several limits on one thing are separated by `;` ("3/15 minutes;10/day"), and all of them must
allow a hit.

A refused hit is not counted, so a shopper who waits is served again once the window has moved. When the
storage does not answer, the hit is let through and an error is logged: the limits protect the service, and
losing them for a while must not stop the shoppers.

Who uses it: rasa_runtime/rate_limit_middleware.py (per client address on the webhooks and the HTTP API, per
sender on every input channel) and actions/identity.py (one-time codes per address and per customer).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import Field, validator

from foundation.settings import ProcessSettings

log = logging.getLogger("rate_limits")

# Patience with a shared storage per hit (seconds): a Redis that does not answer lets hits through quickly.
STORAGE_TIMEOUT_SECONDS = 0.5
IN_MEMORY_SCHEMES = ("memory",)
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")


class RateLimitList(tuple):
    """One or more limits in the `limits` notation, separated by `;` (e.g. "3/15 minutes;10/day")."""

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> RateLimitList:
        """The parsed limits; ValueError (pydantic names the variable) when the text is not in the notation."""
        if isinstance(value, RateLimitList):
            return value
        try:
            return cls(parse_many(str(value)))  # refuses text with no limit in it too
        except ValueError:
            raise ValueError('must be limits such as "30/minute" or "3/15 minutes;10/day"') from None

    def __str__(self) -> str:
        return ";".join(str(item) for item in self)


class TrustedProxies(tuple):
    """Addresses or networks (comma-separated, e.g. "127.0.0.1,10.0.0.0/8") whose X-Forwarded-For is believed."""

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> TrustedProxies:
        """The parsed networks; ValueError when one of them is not an IP address or network."""
        if isinstance(value, TrustedProxies):
            return value
        try:
            return cls(
                ipaddress.ip_network(part.strip(), strict=False) for part in str(value).split(",") if part.strip()
            )
        except ValueError:
            raise ValueError("must be IP addresses or networks separated by commas") from None

    def trust(self, address: str) -> bool:
        """Whether `address` is one of the proxies (False for anything that is not an IP address)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self)


class RateLimitSettings(ProcessSettings):
    """The abuse limits' switch, storage and limits, read by the Rasa server and by the action server."""

    enabled: bool = Field(True, env="RATE_LIMITS")
    storage_url: str = Field("memory://", env="RATE_LIMIT_STORAGE_URL")
    per_sender: RateLimitList = Field(RateLimitList.validate("30/minute"), env="RATE_LIMIT_PER_SENDER")
    per_address: RateLimitList = Field(RateLimitList.validate("300/minute"), env="RATE_LIMIT_PER_ADDRESS")
    codes_per_address: RateLimitList = Field(
        RateLimitList.validate("3/15 minutes;10/day"), env="RATE_LIMIT_CODES_PER_ADDRESS"
    )
    codes_per_customer: RateLimitList = Field(
        RateLimitList.validate("3/15 minutes;10/day"), env="RATE_LIMIT_CODES_PER_CUSTOMER"
    )
    trusted_proxies: TrustedProxies = Field(TrustedProxies(), env="RATE_LIMIT_TRUSTED_PROXIES")

    @validator("enabled", pre=True)
    def _on_or_off(cls, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("on", "off"):
            raise ValueError("must be on or off")
        return text == "on"

    @validator("storage_url")
    def _known_storage(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in IN_MEMORY_SCHEMES + REDIS_SCHEMES:
            raise ValueError("must be memory:// or a redis://, rediss:// or redis+unix:// URL")
        return value


class RateLimited(Exception):
    """A request over its limit: the caller answers "try again in `retry_after` seconds" (HTTP 429, Retry-After).

    Raised for the REST channel's messages over their sender's limit, so that the channel can answer 429 with
    the polite `message` (the domain's `utter_slow_down`) instead of handling the message.
    """

    def __init__(self, retry_after: int, message: str = ""):
        super().__init__(f"rate limited: retry after {retry_after} s")
        self.retry_after = retry_after
        self.message = message


@dataclass(frozen=True)
class Check:
    """One thing to count: its limits, and who it counts (a scope such as "sender" and the identifier in it)."""

    limits: Sequence[RateLimitItem]
    scope: str
    identifier: str

    def key(self) -> str:
        """The identifier as stored: hashed, so that a shared storage holds no email, phone number or address."""
        return hashlib.sha256(f"{self.scope}\0{self.identifier}".encode()).hexdigest()[:32]


class Limiter:
    """Counts hits against limits in one storage (moving windows); `acquire` says whether one more is allowed."""

    def __init__(self, storage_url: str = "memory://", *, namespace: str = "larkspur"):
        scheme = storage_url.split("://", 1)[0].lower()
        options: dict[str, Any] = {}
        if scheme in REDIS_SCHEMES:
            options = {"socket_timeout": STORAGE_TIMEOUT_SECONDS, "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS}
        self.storage: Storage = storage_from_string(storage_url, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.namespace = namespace
        # Calls to a storage over the network leave the event loop (see acquire_async).
        self.blocking = scheme not in IN_MEMORY_SCHEMES

    def acquire(self, *checks: Check) -> int | None:
        """Count one hit for each check if every one of their limits allows it; None when it was counted.

        Otherwise nothing is counted and the answer is the number of seconds (at least 1) until every refusing
        limit allows a hit again. A storage that fails lets the hit through (and logs why).
        """
        try:
            waits = [self._wait(item, check) for check in checks for item in check.limits]
            refused = [wait for wait in waits if wait is not None]
            if refused:
                return max(refused)
            for check in checks:
                for item in check.limits:
                    if not self.strategy.hit(item, self.namespace, check.scope, check.key()):
                        return self._wait(item, check) or 1  # another process took the last hit meanwhile
        except Exception as error:  # any storage failure: a storage outage must not stop the service
            log.error(
                "rate limit storage failed; the request is let through",
                extra={"error": f"{type(error).__name__}: {error}"},
            )
        return None

    async def acquire_async(self, *checks: Check) -> int | None:
        """`acquire` for a server's event loop: a network storage is asked from a worker thread."""
        if self.blocking:
            return await asyncio.to_thread(self.acquire, *checks)
        return self.acquire(*checks)

    def clear(self, *checks: Check) -> None:
        """Forget the hits of these checks (for operators and tests)."""
        for check in checks:
            for item in check.limits:
                self.strategy.clear(item, self.namespace, check.scope, check.key())

    def _wait(self, item: RateLimitItem, check: Check) -> int | None:
        """None when `item` allows one more hit for `check`; else the seconds until its oldest hit leaves the window."""
        identifiers = (self.namespace, check.scope, check.key())
        if self.strategy.test(item, *identifiers):
            return None
        reset_at, _remaining = self.strategy.get_window_stats(item, *identifiers)
        return max(1, math.ceil(reset_at - time.time()))


_LIMITERS: dict[str, Limiter] = {}


def process_limiter(settings: RateLimitSettings) -> Limiter:
    """This process's limiter on the settings' storage, made on first use and shared by everything in it."""
    limiter = _LIMITERS.get(settings.storage_url)
    if limiter is None:
        limiter = _LIMITERS[settings.storage_url] = Limiter(settings.storage_url)
    return limiter
