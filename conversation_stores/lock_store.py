"""Rasa's Redis lock store in two round trips per message instead of seven, and without its race.

Rasa's `RedisLockStore` takes a conversation's ticket lock with GET + SET (issue a ticket), then GET (is it
my turn?), and gives it back with GET + SET (finish), GET (anyone waiting?) and DEL: seven blocking round
trips per message on the Rasa server's event loop, each with a JSON round trip in Python. Worse, the first
GET + SET is not atomic, so two replicas receiving messages of one conversation at the same moment can both
draw ticket 0 and run the conversation's turns at the same time.

`RedisTicketLockStore` does each of "draw a ticket and see whether it is served" and "give the ticket back"
in one Lua script, which Redis runs atomically. The lock is stored exactly as Rasa stores it (same key, same
JSON), so replicas running Rasa's store and this one can share a Redis during a rolling update. Waiting for
one's turn (a second message of a conversation while the first is still answered) polls as Rasa's does.

Every Redis call of a turn (the two scripts, the polling) runs on the store's few threads (`blocking.py`), so a
replica's event loop answers other conversations while one waits on Redis; the store keeps Rasa's one client
and its one connection pool. Its constructor is `RedisLockStore`'s, argument for argument, so it stands
wherever Rasa's does.

A ticket is a lease: it expires `lock_lease` seconds (LOCK_LEASE_SECONDS, 5) after it was drawn, and the replica
that drew it renews it in the background for as long as it waits for its turn and then holds the lock (at most
Rasa's `lock_lifetime` once served, TICKET_LOCK_LIFETIME). A replica killed mid-turn stops renewing, so the
conversation is free again within one lease, while a live turn slower than the lease keeps its lock. A waiter
whose ticket is gone (a loop stalled past its lease, a restarted Redis) draws a new one instead of waiting for a
ticket nobody serves. Redis calls that cannot reach Redis are retried for up to STORE_RETRY_SECONDS
(`retrying.py`), so a Redis restart delays turns instead of failing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import redis  # type: ignore[import-untyped]  # redis 4.6 ships no types
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import DEFAULT_SOCKET_TIMEOUT_IN_SECONDS, LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from conversation_stores.blocking import DEFAULT_IO_THREADS, BlockingCalls
from conversation_stores.retrying import ServerRetry
from conversation_stores.settings import StoreSettings

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

# Shared by both scripts: read Rasa's TicketLock JSON ({"conversation_id": ..., "tickets": ["{\"number\": n,
# \"expires\": t}", ...]}), dropping expired tickets (Rasa: expired when now > expires).
_READ = """
local now = tonumber(ARGV[2])
local live = {}
local raw = redis.call('GET', KEYS[1])
if raw then
  local lock = cjson.decode(raw)
  for _, text in ipairs(lock['tickets'] or {}) do
    local ticket = cjson.decode(text)
    if not (now > ticket['expires']) then table.insert(live, ticket) end
  end
end
local function write(conversation_id)
  if #live == 0 then redis.call('DEL', KEYS[1]) return end
  local texts = {}
  for i, ticket in ipairs(live) do
    texts[i] = string.format('{"number": %d, "expires": %.6f}', ticket['number'], ticket['expires'])
  end
  redis.call('SET', KEYS[1], cjson.encode({conversation_id = conversation_id, tickets = texts}))
end
"""

# KEYS[1] lock key; ARGV: conversation id, now, lifetime. Returns {my ticket, the ticket now served}.
ISSUE = (
    _READ
    + """
local number = 0
if #live > 0 then number = live[#live]['number'] + 1 end
table.insert(live, {number = number, expires = now + tonumber(ARGV[3])})
write(ARGV[1])
return {number, live[1]['number']}
"""
)

# KEYS[1] lock key; ARGV: conversation id, now, ticket. Removes the ticket (and expired ones).
RELEASE = (
    _READ
    + """
local mine = tonumber(ARGV[3])
for i = #live, 1, -1 do
  if live[i]['number'] == mine then table.remove(live, i) end
end
write(ARGV[1])
return #live
"""
)

# KEYS[1] lock key; ARGV: conversation id, now, ticket, new expiry. Returns 1 when the ticket was still live.
RENEW = (
    _READ
    + """
local mine = tonumber(ARGV[3])
for _, ticket in ipairs(live) do
  if ticket['number'] == mine then
    ticket['expires'] = tonumber(ARGV[4])
    write(ARGV[1])
    return 1
  end
end
return 0
"""
)

# How often a lease is renewed, as a share of the lease: two renewals may fail before it lapses.
RENEWALS_PER_LEASE = 3


def redis_unreachable(error: BaseException) -> bool:
    """Whether a Redis call failed because Redis could not be reached (refused, dropped, timed out, loading)."""
    return isinstance(error, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError))


@dataclass
class _Lease:
    """One turn's ticket: its number (a waiter may draw again), its lease, and until when it may be renewed."""

    number: int
    lease: float
    expires: float
    renew_until: float = float("inf")  # while waiting; once served, Rasa's lock lifetime from then

    def next_expiry(self, now: float) -> float:
        return min(now + self.lease, self.renew_until)


class RedisTicketLockStore(RedisLockStore):
    """Redis lock store taking and giving back a conversation's ticket lock in one atomic script each.

    Configured like Rasa's Redis lock store, with this class as `type` in `endpoints.yml`, and built like it
    in code: `RedisTicketLockStore(host, port, db, ...)` takes `RedisLockStore`'s arguments in its order. Options
    besides: `io_threads`, the threads that wait on Redis for the event loop (default 4; 0: on the event loop,
    as Rasa's store); `lock_lease`, the seconds a ticket outlives its last renewal (LOCK_LEASE_SECONDS);
    `retry_seconds`, how long a call is retried while Redis cannot be reached (STORE_RETRY_SECONDS).
    """

    def __init__(
        self,
        host: str | EndpointConfig = "localhost",
        port: int = 6379,
        db: int = 1,
        username: str | None = None,
        password: str | None = None,
        use_ssl: bool = False,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_ca_certs: str | None = None,
        key_prefix: str | None = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
        *,
        endpoint_config: EndpointConfig | None = None,
        io_threads: int = DEFAULT_IO_THREADS,
        lock_lease: float | None = None,
        retry_seconds: float | None = None,
    ) -> None:
        settings: dict[str, Any] = {
            "host": host,
            "port": port,
            "db": db,
            "username": username,
            "password": password,
            "use_ssl": use_ssl,
            "ssl_certfile": ssl_certfile,
            "ssl_keyfile": ssl_keyfile,
            "ssl_ca_certs": ssl_ca_certs,
            "key_prefix": key_prefix,
            "socket_timeout": socket_timeout,
        }
        if isinstance(host, EndpointConfig):  # an endpoint passed first, as this class once took it
            endpoint_config, settings["host"] = host, "localhost"
        if endpoint_config is not None:
            # Rasa builds a lock store named by module path with `endpoint_config=` only; `type: redis` takes
            # the host from `url` and the rest from the other keys, and so does this one.
            options = dict(endpoint_config.kwargs)
            io_threads = int(options.pop("io_threads", io_threads))
            lock_lease = options.pop("lock_lease", lock_lease)
            retry_seconds = options.pop("retry_seconds", retry_seconds)
            settings.update(host=endpoint_config.url or "localhost", **options)
        defaults = StoreSettings.current()
        self.lock_lease = float(lock_lease if lock_lease is not None else defaults.lock_lease_seconds)
        if self.lock_lease <= 0:
            raise ValueError(f"lock store lock_lease must be more than 0 seconds, got {lock_lease}")
        seconds = float(retry_seconds if retry_seconds is not None else defaults.store_retry_seconds)
        self._retry = ServerRetry("lock store", redis_unreachable, seconds)
        self._calls = BlockingCalls(int(io_threads), "lock-store")
        super().__init__(**settings)
        self._issue = self.red.register_script(ISSUE)
        self._release = self.red.register_script(RELEASE)
        self._renew = self.red.register_script(RENEW)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Draw the next ticket atomically (Rasa's version can hand the same number to two replicas).

        Rasa's call: the ticket lives `lock_lifetime` seconds and nobody renews it (`lock()` leases its own).
        """
        try:
            return self._draw(conversation_id, lock_lifetime)[0]
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def _draw(self, conversation_id: str, lifetime: float) -> tuple[int, int, float]:
        """My ticket, the ticket now served, and when mine expires (one script)."""
        now = time.time()
        ticket, serving = self._issue(
            keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(now), repr(float(lifetime))]
        )
        return int(ticket), int(serving), now + float(lifetime)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's lock: serve the conversation's tickets in order; give the ticket back however the turn ends.

        The ticket is leased and renewed while this turn waits and runs (see the module's docstring).
        """
        lease = min(self.lock_lease, float(lock_lifetime))
        drawing = asyncio.ensure_future(self._draw_off_loop(conversation_id, lease))
        try:
            ticket, serving, expires = await asyncio.shield(drawing)
        except asyncio.CancelledError:
            # The turn was cancelled while Redis drew its ticket: give the ticket back once drawn, or the
            # conversation would wait for its lease.
            drawing.add_done_callback(lambda drawn: self._give_back_abandoned(conversation_id, drawn))
            raise
        held = _Lease(ticket, lease, expires)
        renewing = asyncio.ensure_future(self._keep_renewing(conversation_id, held))
        try:
            if ticket != serving:
                await self._wait_for_turn(conversation_id, held, wait_time_in_seconds)
            logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
            held.renew_until = time.time() + float(lock_lifetime)
            yield TicketLock(conversation_id, deque([Ticket(held.number, held.expires)]))
        finally:
            renewing.cancel()
            # Shielded: a turn cancelled now still gives its ticket back.
            giving_back = asyncio.ensure_future(self._give_back(conversation_id, held.number))
            await asyncio.shield(giving_back)

    async def _wait_for_turn(self, conversation_id: str, held: _Lease, wait_time_in_seconds: float) -> None:
        """Rasa's `_acquire_lock`, with each look at the lock off the event loop; a waiter whose ticket is
        gone draws a new one (Rasa's would wait for good: it reads "now serving" as 0 once every ticket expired)."""
        while True:
            await asyncio.sleep(wait_time_in_seconds)
            lock = await self._look(conversation_id)
            live = [] if lock is None else [ticket for ticket in lock.tickets if not ticket.has_expired()]
            numbers = [ticket.number for ticket in live]
            if held.number in numbers:
                if numbers[0] == held.number:
                    return
                continue
            logger.warning(
                f"Ticket {held.number} of conversation '{conversation_id}' lapsed while waiting; drawing a new one."
            )
            held.number, serving, held.expires = await self._draw_off_loop(conversation_id, held.lease)
            if held.number == serving:
                return

    async def _keep_renewing(self, conversation_id: str, held: _Lease) -> None:
        """Renew the ticket's lease every third of it until cancelled (the turn gave it back) or, once served,
        until Rasa's lock lifetime is over. A renewal that cannot reach Redis is tried again at the next one."""
        while True:
            await asyncio.sleep(held.lease / RENEWALS_PER_LEASE)
            now = time.time()
            if now >= held.renew_until:
                return
            expires = held.next_expiry(now)
            try:
                renewed = await self._calls.run(self._renew_once, conversation_id, held.number, now, expires)
            except redis.exceptions.RedisError as error:
                logger.warning(f"Could not renew the lock of conversation '{conversation_id}': {error}")
                continue
            if renewed:
                held.expires = expires
            elif held.renew_until != float("inf"):  # served, and Redis lost the ticket (restarted): nothing to renew
                logger.warning(f"The lock of conversation '{conversation_id}' was lost while its turn ran.")
                return

    def _renew_once(self, conversation_id: str, ticket: int, now: float, expires: float) -> bool:
        found = self._renew(
            keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(now), int(ticket), repr(expires)]
        )
        return int(found) == 1

    async def _draw_off_loop(self, conversation_id: str, lifetime: float) -> tuple[int, int, float]:
        """`_draw` on the store's threads, retried while Redis cannot be reached; LockError once it gives up."""
        try:
            return await self._on_redis(self._draw, conversation_id, lifetime)
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    async def _give_back(self, conversation_id: str, ticket: int) -> None:
        """`cleanup` on the store's threads, retried while Redis cannot be reached. If it still fails, the
        ticket is no longer renewed and lapses within one lease: the turn's answer is not failed for it."""
        try:
            await self._on_redis(self.cleanup, conversation_id, ticket)
        except redis.exceptions.RedisError as error:
            logger.warning(f"Could not give back the lock of conversation '{conversation_id}': {error}")

    async def _look(self, conversation_id: str) -> TicketLock | None:
        """`get_lock` on the store's threads, retried while Redis cannot be reached."""
        try:
            return await self._on_redis(self.get_lock, conversation_id)
        except Exception as error:
            raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}': {error}") from error

    async def _on_redis(self, call: Callable[..., Result], *args: Any) -> Result:
        """One blocking Redis call on the store's threads, retried while Redis cannot be reached."""
        return await self._retry.run(lambda: self._calls.run(call, *args))

    def _give_back_abandoned(self, conversation_id: str, drawn: asyncio.Future) -> None:
        if drawn.cancelled() or drawn.exception() is not None:
            return
        with contextlib.suppress(redis.exceptions.RedisError):  # not given back: it lapses within its lease
            self.cleanup(conversation_id, drawn.result()[0])  # rare: one Redis call on the loop

    def update_lock(self, conversation_id: str) -> None:
        """Nothing to do: the scripts drop expired tickets themselves.

        Rasa's version (GET, drop expired tickets, SET while waiting for a turn) could overwrite a ticket
        another replica drew in between.
        """

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; the lock's key goes when no one else holds a ticket."""
        left = self._release(
            keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time()), int(ticket_number)]
        )
        self._log_deletion(conversation_id, deletion_successful=int(left) == 0)

    def dispose(self) -> None:
        """Stop the store's threads and close its Redis connections (a replica shutting down)."""
        self._calls.close()
        self.red.connection_pool.disconnect()
