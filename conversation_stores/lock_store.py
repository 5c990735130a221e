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
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import DEFAULT_SOCKET_TIMEOUT_IN_SECONDS, LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from conversation_stores.blocking import DEFAULT_IO_THREADS, BlockingCalls

logger = logging.getLogger(__name__)

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


class RedisTicketLockStore(RedisLockStore):
    """Redis lock store taking and giving back a conversation's ticket lock in one atomic script each.

    Configured like Rasa's Redis lock store, with this class as `type` in `endpoints.yml`, and built like it
    in code: `RedisTicketLockStore(host, port, db, ...)` takes `RedisLockStore`'s arguments in its order. One
    option besides: `io_threads`, the threads that wait on Redis for the event loop (default 4; 0: on the
    event loop, as Rasa's store).
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
            settings.update(host=endpoint_config.url or "localhost", **options)
        self._calls = BlockingCalls(int(io_threads), "lock-store")
        super().__init__(**settings)
        self._issue = self.red.register_script(ISSUE)
        self._release = self.red.register_script(RELEASE)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Draw the next ticket atomically (Rasa's version can hand the same number to two replicas)."""
        return self._draw(conversation_id, lock_lifetime)[0]

    def _draw(self, conversation_id: str, lock_lifetime: float) -> tuple[int, int, float]:
        now = time.time()
        try:
            ticket, serving = self._issue(
                keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(now), repr(float(lock_lifetime))]
            )
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        return int(ticket), int(serving), now + float(lock_lifetime)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's lock: serve the conversation's tickets in order; give the ticket back however the turn ends."""
        drawing = asyncio.ensure_future(self._draw_off_loop(conversation_id, lock_lifetime))
        try:
            ticket, serving, expires = await asyncio.shield(drawing)
        except asyncio.CancelledError:
            # The turn was cancelled while Redis drew its ticket: give the ticket back once drawn, or the
            # conversation would wait for its lifetime.
            drawing.add_done_callback(lambda drawn: self._give_back_abandoned(conversation_id, drawn))
            raise
        try:
            if ticket == serving:
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                yield TicketLock(conversation_id, deque([Ticket(ticket, expires)]))
            else:
                yield await self._wait_for_turn(conversation_id, ticket, wait_time_in_seconds)
        finally:
            # Shielded: a turn cancelled now still gives its ticket back.
            giving_back = asyncio.ensure_future(self._give_back(conversation_id, ticket))
            await asyncio.shield(giving_back)

    async def _wait_for_turn(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Rasa's `_acquire_lock`, with each look at the lock off the event loop."""
        while True:
            lock = await self._look(conversation_id)
            if not lock:  # every ticket expired, ours too
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if not lock.is_locked(ticket):
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                return lock
            await asyncio.sleep(wait_time_in_seconds)

    async def _draw_off_loop(self, conversation_id: str, lock_lifetime: float) -> tuple[int, int, float]:
        """`_draw` on the store's threads: my ticket, the ticket now served, when mine expires."""
        return await self._calls.run(self._draw, conversation_id, lock_lifetime)

    async def _give_back(self, conversation_id: str, ticket: int) -> None:
        """`cleanup` on the store's threads."""
        await self._calls.run(self.cleanup, conversation_id, ticket)

    async def _look(self, conversation_id: str) -> TicketLock | None:
        """`get_lock` on the store's threads."""
        return await self._calls.run(self.get_lock, conversation_id)

    def _give_back_abandoned(self, conversation_id: str, drawn: asyncio.Future) -> None:
        if drawn.cancelled() or drawn.exception() is not None:
            return
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
