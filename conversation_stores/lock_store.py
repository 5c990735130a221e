"""Rasa's Redis lock store in two round trips per message instead of seven, and without its race.

Rasa's `RedisLockStore` takes a conversation's ticket lock with GET + SET (issue a ticket), then GET (is it
my turn?), and gives it back with GET + SET (finish), GET (anyone waiting?) and DEL: seven blocking round
trips per message on the Rasa server's event loop, each with a JSON round trip in Python. Worse, the first
GET + SET is not atomic, so two replicas receiving messages of one conversation at the same moment can both
draw ticket 0 and run the conversation's turns at the same time.

`RedisTicketLockStore` does each of "draw a ticket and see whether it is served" and "give the ticket back"
in one Lua script, which Redis runs atomically. The lock is stored exactly as Rasa stores it (same key, same
JSON), so replicas running Rasa's store and this one can share a Redis during a rolling update. Waiting for
one's turn (a second message of a conversation while the first is still answered) is Rasa's own polling.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

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

    Configured like Rasa's Redis lock store, with this class as `type` in `endpoints.yml`.
    """

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        # Rasa builds a lock store named by module path with `endpoint_config=` only; `type: redis` takes the
        # host from `url` and the rest from the other keys, and so does this one.
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
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
        ticket, serving, expires = self._draw(conversation_id, lock_lifetime)
        try:
            if ticket == serving:
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                yield TicketLock(conversation_id, deque([Ticket(ticket, expires)]))
            else:
                yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            self.cleanup(conversation_id, ticket)

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
