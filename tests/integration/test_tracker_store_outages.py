"""The tracker store while PostgreSQL restarts, on a real PostgreSQL stopped and started again.

Rasa's `FailSafeTrackerStore` keeps a failed save's events in the replica's memory only; the store retries its
database calls while PostgreSQL cannot be reached (conversation_stores/tracker_store.py), so the events reach the
database, once each, even when the connection broke after PostgreSQL committed them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import psycopg2
import pytest
import sqlalchemy as sa

from foundation.local_servers import _postgres_bin
from foundation.processes import ChildProcess
from tests.support.postgres import PostgresServer, scalar, tracker_store_on
from tests.unit.test_tracker_store import DOMAIN, begin, dicts, run, say

READY_FOR_QUERY = b"Z\x00\x00\x00\x05I"  # PostgreSQL's "idle, ready for the next query": the end of an answer


@pytest.fixture
def restartable_postgres():
    """A PostgreSQL of this test's own: the session's is shared, and this one is stopped mid-test."""
    server = PostgresServer().start()
    yield server
    server.stop()


def store(port, **options):
    return tracker_store_on(port, DOMAIN, **options)


def stored_events(server, sender):
    return scalar(server.port, "SELECT count(*) FROM events WHERE sender_id = %s", sender)


def stop_postgres(server: PostgresServer) -> None:
    """Fast shutdown (SIGINT), as `make chaos` stops it: open connections are cut."""
    assert server.service is not None
    os.killpg(server.service.pid, signal.SIGINT)
    server.service.proc.wait(30)
    server.service.stop()  # closes its log


def start_postgres_again(server: PostgresServer) -> None:
    """The same data directory and port, the same command line."""
    assert server.service is not None
    server.service = ChildProcess("postgresql", server.service.command, log_path=server.service.log_path)
    server.service.wait_until(
        lambda: (
            subprocess.run(
                [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(server.port)], capture_output=True
            ).returncode
            == 0
        ),
        60,
        condition="accepting connections",
    )


async def while_postgres_restarts(server, work, down_seconds=1.5):
    """Stop PostgreSQL, start `work()`, start PostgreSQL again after `down_seconds`; work's result."""
    stop_postgres(server)
    doing = asyncio.ensure_future(work())
    await asyncio.sleep(down_seconds)
    assert not doing.done()  # it waits for the database instead of failing
    await asyncio.get_running_loop().run_in_executor(None, start_postgres_again, server)
    return await doing


def test_a_save_while_postgresql_restarts_stores_every_event_once(restartable_postgres):
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    replica = store(restartable_postgres.port, retry_seconds=20)

    async def scenario():
        await begin(replica, sender)
        tracker = await replica.retrieve(sender)
        before = stored_events(restartable_postgres, sender)
        say(tracker, "where is 10001", "10001")  # five new events
        await while_postgres_restarts(restartable_postgres, lambda: replica.save(tracker))
        return before, dicts(tracker)

    before, saved = run(scenario())
    assert stored_events(restartable_postgres, sender) == before + 5
    assert dicts(run(store(restartable_postgres.port).retrieve(sender))) == saved


def test_a_read_while_postgresql_restarts_waits_for_it(restartable_postgres):
    sender = f"read-{uuid.uuid4().hex[:8]}"
    replica, other = store(restartable_postgres.port, retry_seconds=20), store(restartable_postgres.port)

    async def scenario():
        tracker = await begin(replica, sender)
        say(tracker, "where is 10002", "10002")
        await replica.save(tracker)
        incremental = await while_postgres_restarts(restartable_postgres, lambda: replica.retrieve(sender))
        fresh = store(restartable_postgres.port, retry_seconds=20)
        full = await while_postgres_restarts(restartable_postgres, lambda: fresh.retrieve(sender))
        return dicts(incremental), dicts(full), dicts(await other.retrieve(sender))

    incremental, full, expected = run(scenario())
    assert incremental == full == expected and len(expected) > 3


def test_a_store_gives_up_after_its_retry_time(restartable_postgres):
    sender = f"gives-up-{uuid.uuid4().hex[:8]}"
    replica = store(restartable_postgres.port, retry_seconds=0.5)
    tracker = run(begin(replica, sender))
    say(tracker, "where is 10003", "10003")
    stop_postgres(restartable_postgres)
    try:
        started = time.monotonic()
        with pytest.raises((sa.exc.OperationalError, psycopg2.OperationalError)):
            run(replica.save(tracker))
        assert time.monotonic() - started < 5
    finally:
        start_postgres_again(restartable_postgres)


class AnswerDroppingProxy:
    """A TCP pass-through to PostgreSQL; once armed, it forwards the next INSERT into `events`, lets PostgreSQL
    run and commit it, and then closes the connection instead of passing the answer on: the case where the
    client cannot know whether its insert was stored."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            state = {"drop": False}
            threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, state), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket, state: dict) -> None:
        try:
            while data := client.recv(65536):
                if self.armed.is_set() and b"INSERT INTO events" in data:
                    self.armed.clear()
                    state["drop"] = True
                upstream.sendall(data)
        except OSError:
            pass

    def _down(self, upstream: socket.socket, client: socket.socket, state: dict) -> None:
        held = b""
        try:
            while data := upstream.recv(65536):
                if not state["drop"]:
                    client.sendall(data)
                    continue
                held += data
                if held.endswith(READY_FOR_QUERY):  # PostgreSQL has committed and answered: cut the line
                    self.dropped.set()
                    for end in (client, upstream):
                        end.shutdown(socket.SHUT_RDWR)
                        end.close()
                    return
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()


def test_an_insert_whose_answer_was_lost_after_the_commit_is_not_stored_twice(postgres):
    sender = f"lost-answer-{uuid.uuid4().hex[:8]}"
    proxy = AnswerDroppingProxy(postgres.port)
    try:
        replica = store(proxy.port, retry_seconds=10)

        async def scenario():
            await begin(replica, sender)
            tracker = await replica.retrieve(sender)
            before = stored_events(postgres, sender)
            say(tracker, "where is 10004", "10004")  # five new events
            proxy.armed.set()
            await replica.save(tracker)
            return before, dicts(tracker), dicts(await replica.retrieve(sender))

        before, saved, after = run(scenario())
        assert proxy.dropped.is_set()  # the insert was committed and its answer never arrived
        assert stored_events(postgres, sender) == before + 5
        assert after == saved == dicts(run(store(postgres.port).retrieve(sender)))
        replica.dispose()
    finally:
        proxy.close()
