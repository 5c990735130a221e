"""Each platform event processed once, though the platform delivers it again (Slack, Teams and Twilio all retry).

An event id (Slack's `event_id`, a Teams activity's `id`, Twilio's `MessageSid`) is claimed when its first delivery
arrives, marked done when its turn has run, and released when the turn failed, so that a retry is processed
then. A claimed or done id is a duplicate: acknowledged, not processed.

Where the ids are kept:
- always in the process, in a bounded cache (cachetools' `TLRUCache`, `CHANNEL_DEDUP_MAX_ENTRIES` ids): a done id for
  `CHANNEL_DEDUP_TTL` seconds, a claim for `CHANNEL_DEDUP_CLAIM_SECONDS` (so a turn that hung does not block its
  retries forever). Enough for one Rasa replica.
- with `CHANNEL_DEDUP_REDIS_URL` set, also in Redis (`SET NX EX`), so a retry that a load balancer sends to another
  replica is recognised there. A Redis that does not answer is logged and the process's own cache decides:
  processing a retry twice is better than losing a message.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from cachetools import TLRUCache
from redis import asyncio as redis_asyncio  # type: ignore[import-untyped]  # redis 4.6 ships no types
from redis.exceptions import RedisError  # type: ignore[import-untyped]

from channels.common import ChannelSettings

log = logging.getLogger("channels.dedup")

KEY_PREFIX = "larkspur:channel-event"
REDIS_TIMEOUT_SECONDS = 1.0  # a webhook waits at most this long for Redis before deciding on its own
DONE = "done"
CLAIMED = "claimed"
RELEASE_IF_OURS = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class SeenEvents:
    """The platform event ids this process (and, with Redis, every replica) has claimed or processed."""

    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        claim_seconds: float = 300.0,
        max_entries: int = 10000,
        redis_url: str | None = None,
    ) -> None:
        self.ttl = ttl
        self.claim_seconds = claim_seconds
        self._local: TLRUCache[str, str] = TLRUCache(maxsize=max_entries, ttu=self._expiry, timer=time.monotonic)
        self._tokens: dict[str, str] = {}  # our Redis claim token per key, to release only our own claim
        self._redis: Any = (
            redis_asyncio.Redis.from_url(
                redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
            if redis_url
            else None
        )

    @classmethod
    def from_settings(cls, settings: ChannelSettings | None = None) -> SeenEvents:
        """The store the process's `CHANNEL_DEDUP_*` variables describe."""
        settings = settings or ChannelSettings.current()
        return cls(
            ttl=settings.channel_dedup_ttl,
            claim_seconds=settings.channel_dedup_claim_seconds,
            max_entries=settings.channel_dedup_max_entries,
            redis_url=settings.channel_dedup_redis_url,
        )

    @property
    def shared(self) -> bool:
        """Whether the ids are shared with other replicas through Redis."""
        return self._redis is not None

    def _expiry(self, _key: str, value: str, now: float) -> float:
        return now + (self.ttl if value == DONE else self.claim_seconds)

    @staticmethod
    def key(channel: str, event_id: str) -> str:
        """Where an event id is kept: one namespace per channel."""
        return f"{KEY_PREFIX}:{channel}:{event_id}"

    async def claim(self, channel: str, event_id: str) -> bool:
        """True when this delivery is the one to process; False for an id already claimed or processed."""
        key = self.key(channel, event_id)
        if key in self._local:
            return False
        if self._redis is not None:
            token = uuid.uuid4().hex
            try:
                claimed = await self._redis.set(
                    key, f"{CLAIMED}:{token}", nx=True, ex=max(1, round(self.claim_seconds))
                )
            except (RedisError, OSError) as error:
                log.warning(
                    "event dedup: Redis unavailable, deciding in this process",
                    extra={"channel": channel, "error": type(error).__name__},
                )
            else:
                if not claimed:
                    return False
                self._tokens[key] = f"{CLAIMED}:{token}"
        self._local[key] = CLAIMED
        return True

    async def done(self, channel: str, event_id: str) -> None:
        """The event's turn has run: every later delivery of it is a duplicate for `ttl` seconds."""
        key = self.key(channel, event_id)
        self._local[key] = DONE
        self._tokens.pop(key, None)
        if self._redis is not None:
            try:
                await self._redis.set(key, DONE, ex=max(1, round(self.ttl)))
            except (RedisError, OSError) as error:
                log.warning(
                    "event dedup: could not record a done event in Redis", extra={"error": type(error).__name__}
                )

    async def release(self, channel: str, event_id: str) -> None:
        """The event's turn failed before it was processed: the platform's next retry of it will be processed."""
        key = self.key(channel, event_id)
        self._local.pop(key, None)
        token = self._tokens.pop(key, None)
        if self._redis is not None and token is not None:
            try:
                await self._redis.eval(RELEASE_IF_OURS, 1, key, token)
            except (RedisError, OSError) as error:
                log.warning("event dedup: could not release a claim in Redis", extra={"error": type(error).__name__})

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        if self._redis is not None:
            await self._redis.close()
