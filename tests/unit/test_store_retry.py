"""conversation_stores/retrying.py: a store call is retried only while its server cannot be reached, and a call
that succeeds at once never enters the retry machinery."""

from __future__ import annotations

import asyncio
import time

import pytest

from conversation_stores import retrying
from conversation_stores.retrying import ServerRetry


class Unreachable(ConnectionError):
    pass


def unreachable(error: BaseException) -> bool:
    return isinstance(error, Unreachable)


def calls_failing(times: int, error: BaseException):
    made = []

    async def call():
        made.append(time.monotonic())
        if len(made) <= times:
            raise error
        return "answer"

    return call, made


def test_a_call_that_succeeds_at_once_does_not_build_a_retrying(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tenacity entered on the happy path")

    monkeypatch.setattr(retrying.tenacity, "AsyncRetrying", refuse)
    call, made = calls_failing(0, Unreachable())
    assert asyncio.run(ServerRetry("store", unreachable, 5).run(call)) == "answer" and len(made) == 1


def test_an_unreachable_server_is_retried_with_a_pause_and_the_store_told_each_time():
    dropped = []
    call, made = calls_failing(3, Unreachable("refused"))
    retry = ServerRetry("store", unreachable, 5, before_retry=dropped.append)
    assert asyncio.run(retry.run(call)) == "answer"
    assert len(made) == 4 and len(dropped) == 3
    assert made[1] - made[0] >= retrying.FIRST_PAUSE_SECONDS * 0.9  # no second attempt straight away


def test_an_error_about_the_request_itself_is_not_retried():
    call, made = calls_failing(1, ValueError("bad query"))
    with pytest.raises(ValueError):
        asyncio.run(ServerRetry("store", unreachable, 5).run(call))
    assert len(made) == 1


def test_retries_stop_when_the_seconds_are_spent_and_the_last_error_goes_up():
    call, made = calls_failing(10_000, Unreachable("still down"))
    started = time.monotonic()
    with pytest.raises(Unreachable):
        asyncio.run(ServerRetry("store", unreachable, 0.5).run(call))
    assert 0.4 < time.monotonic() - started < 2.0 and len(made) >= 3


def test_zero_seconds_means_one_attempt():
    call, made = calls_failing(1, Unreachable())
    with pytest.raises(Unreachable):
        asyncio.run(ServerRetry("store", unreachable, 0).run(call))
    assert len(made) == 1
