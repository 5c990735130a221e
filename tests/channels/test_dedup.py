"""The event-id store behind every channel's deduplication (channels/dedup.py): in the process alone, shared by two
"replicas" through a real Redis, and with a Redis that does not answer."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from channels.dedup import SeenEvents
from foundation.processes import free_port
from tests.support.redis import start_redis


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    service, port = start_redis(tmp_path_factory.mktemp("dedup-redis"))
    yield f"redis://127.0.0.1:{port}/3"
    service.stop()


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.mark.parametrize("shared", [False, True], ids=["in process", "with redis"])
def test_an_event_is_claimed_once_until_released_and_not_after_it_is_done(shared, request):
    url = request.getfixturevalue("redis_url") if shared else None

    async def scenario() -> list[bool]:
        seen = SeenEvents(redis_url=url)
        first = await seen.claim("slack", "Ev1FAILS")
        in_progress = await seen.claim("slack", "Ev1FAILS")
        await seen.release("slack", "Ev1FAILS")  # the turn failed: the retry is processed
        retried = await seen.claim("slack", "Ev1FAILS")
        await seen.done("slack", "Ev1FAILS")
        after_done = await seen.claim("slack", "Ev1FAILS")
        other_channel = await seen.claim("teams", "Ev1FAILS")
        await seen.close()
        return [first, in_progress, retried, after_done, other_channel]

    assert run(scenario()) == [True, False, True, False, True]


def test_a_claim_expires_so_a_hung_turn_does_not_block_its_retries_forever():
    async def scenario() -> list[bool]:
        seen = SeenEvents(claim_seconds=0.3, ttl=60)
        claimed = [await seen.claim("whatsapp", "SM1"), await seen.claim("whatsapp", "SM1")]
        await asyncio.sleep(0.4)
        claimed.append(await seen.claim("whatsapp", "SM1"))
        await seen.done("whatsapp", "SM1")
        await asyncio.sleep(0.4)
        claimed.append(await seen.claim("whatsapp", "SM1"))  # done ids are kept for the ttl, not the claim's time
        return claimed

    assert run(scenario()) == [True, False, True, False]


def test_the_in_process_store_is_bounded():
    async def scenario() -> bool:
        seen = SeenEvents(max_entries=3)
        for number in range(5):
            await seen.done("slack", f"Ev{number}")
        return await seen.claim("slack", "Ev0")  # the oldest id was evicted

    assert run(scenario()) is True


def test_two_replicas_sharing_redis_process_an_event_once(redis_url):
    async def scenario() -> list[bool]:
        a, b = SeenEvents(redis_url=redis_url), SeenEvents(redis_url=redis_url)
        event = f"Ev{time.time_ns()}"
        outcome = [await a.claim("slack", event), await b.claim("slack", event)]  # the retry lands on replica b
        await a.release("slack", event)  # replica a's turn failed
        outcome.append(await b.claim("slack", event))  # so b processes the next retry
        await b.done("slack", event)
        outcome.append(await a.claim("slack", event))  # and a later retry on a is a duplicate
        await a.close()
        await b.close()
        return outcome

    assert run(scenario()) == [True, False, True, False]


def test_a_release_does_not_drop_another_replicas_claim(redis_url):
    async def scenario() -> list[bool]:
        a = SeenEvents(redis_url=redis_url, claim_seconds=1)
        b = SeenEvents(redis_url=redis_url)
        event = f"Ev{time.time_ns()}"
        outcome = [await a.claim("teams", event)]
        await asyncio.sleep(1.2)  # a's claim expired in Redis; b takes the event
        outcome.append(await b.claim("teams", event))
        await a.release("teams", event)  # a's late failure must not free b's claim
        c = SeenEvents(redis_url=redis_url)
        outcome.append(await c.claim("teams", event))
        for seen in (a, b, c):
            await seen.close()
        return outcome

    assert run(scenario()) == [True, True, False]


def test_a_redis_that_does_not_answer_leaves_the_decision_to_the_process(caplog):
    async def scenario() -> list[bool]:
        seen = SeenEvents(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
        outcome = [await seen.claim("slack", "EvDOWN"), await seen.claim("slack", "EvDOWN")]
        await seen.close()
        return outcome

    with caplog.at_level(logging.WARNING, logger="channels.dedup"):
        assert run(scenario()) == [True, False]
    assert any("Redis unavailable" in record.getMessage() for record in caplog.records)
