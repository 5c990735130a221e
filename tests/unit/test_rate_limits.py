"""The abuse limits: their settings, the limiter on memory and on a real Redis, the client address behind a proxy,
and the per-sender wrapper of a channel's handler with Rasa's own messages and output channel."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
import redis
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.domain import Domain

from foundation import REPO
from foundation.rate_limits import (
    Check,
    Limiter,
    RateLimited,
    RateLimitList,
    RateLimitSettings,
    TrustedProxies,
)
from foundation.settings import SettingsError
from rasa_runtime.rate_limit_middleware import (
    SLOW_DOWN_FALLBACK,
    client_address,
    limit_by_sender,
    slow_down_text,
)
from tests.support.redis import start_redis

TWO_PER_SECOND = RateLimitList.validate("2/second")


def test_the_defaults_serve_a_real_shopper_and_every_variable_is_in_env_example(tmp_path, monkeypatch):
    defaults = RateLimitSettings.from_env({})
    assert defaults.enabled and defaults.storage_url == "memory://"
    assert str(defaults.per_sender) == "30 per 1 minute" and str(defaults.per_address) == "300 per 1 minute"
    assert str(defaults.codes_per_address) == "3 per 15 minute;10 per 1 day" == str(defaults.codes_per_customer)
    assert defaults.trusted_proxies == ()
    shutil.copyfile(REPO / ".env.example", tmp_path / ".env")
    for name in RateLimitSettings.__fields__:
        monkeypatch.delenv(RateLimitSettings.variable(name), raising=False)
    assert RateLimitSettings.from_env(env_file=tmp_path / ".env") == defaults


def test_limits_are_configurable_and_a_bad_value_names_its_variable():
    settings = RateLimitSettings.from_env(
        {
            "RATE_LIMITS": "OFF",
            "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6390/2",
            "RATE_LIMIT_PER_SENDER": "5 per 10 seconds",
            "RATE_LIMIT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        }
    )
    assert not settings.enabled and settings.storage_url.startswith("redis://")
    assert [(item.amount, item.multiples) for item in settings.per_sender] == [(5, 10)]
    assert settings.trusted_proxies.trust("10.1.2.3") and not settings.trusted_proxies.trust("11.0.0.1")
    for variable, value, meaning in [
        ("RATE_LIMITS", "no", "must be on or off"),
        ("RATE_LIMIT_PER_ADDRESS", "lots", "must be limits such as"),
        ("RATE_LIMIT_CODES_PER_ADDRESS", ";", "must be limits such as"),
        ("RATE_LIMIT_STORAGE_URL", "mongodb://db", "must be memory:// or a redis://"),
        ("RATE_LIMIT_TRUSTED_PROXIES", "nginx", "must be IP addresses or networks"),
    ]:
        with pytest.raises(SettingsError, match=f"{variable}=.*{meaning}"):
            RateLimitSettings.from_env({variable: value})


def assert_counts_within_the_limit(limiter: Limiter) -> None:
    """Two hits a second for one sender: the third waits about a second, another sender is not affected, and the
    refused hit is not counted (after the window, two more are served)."""
    sender, other = Check(TWO_PER_SECOND, "sender", "rest:a"), Check(TWO_PER_SECOND, "sender", "rest:b")
    started = time.time()
    assert limiter.acquire(sender) is None and limiter.acquire(sender) is None
    assert limiter.acquire(sender) == 1
    assert limiter.acquire(other) is None
    time.sleep(max(0.0, started + 1.1 - time.time()))
    assert limiter.acquire(sender) is None and limiter.acquire(sender) is None
    assert limiter.acquire(sender) == 1


def test_the_limiter_counts_in_memory():
    limiter = Limiter("memory://")
    assert not limiter.blocking
    assert_counts_within_the_limit(limiter)


def test_every_limit_must_allow_and_a_refusal_counts_nothing():
    limiter = Limiter()
    address = Check(RateLimitList.validate("3/minute;4/day"), "code-address", "anna@example.com")
    customer = Check(RateLimitList.validate("1/minute"), "code-customer", "C1001")
    assert limiter.acquire(address, customer) is None
    wait = limiter.acquire(address, customer)  # the customer's limit refuses: the address is not counted either
    assert wait is not None and 50 <= wait <= 60
    assert limiter.acquire(address) is None and limiter.acquire(address) is None  # its 2nd and 3rd
    assert 50 <= (limiter.acquire(address) or 0) <= 60  # 3 a minute, although the day allows a 4th
    limiter.clear(address, customer)
    assert limiter.acquire(address, customer) is None


def test_async_callers_get_the_same_answers():
    limiter = Limiter()
    check = Check(RateLimitList.validate("1/minute"), "address", "192.0.2.1")
    assert asyncio.run(limiter.acquire_async(check)) is None
    assert asyncio.run(limiter.acquire_async(check)) == 60


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    service, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield port
    service.stop()


@pytest.mark.slow
def test_replicas_share_their_counters_in_redis_which_holds_no_identifier(redis_port):
    url = f"redis://127.0.0.1:{redis_port}/2"
    first, second = Limiter(url), Limiter(url)
    assert first.blocking
    assert_counts_within_the_limit(first)
    code = Check(RateLimitList.validate("3/15 minutes"), "code-address", "anna.bakker@example.com")
    assert [first.acquire(code), second.acquire(code), first.acquire(code)] == [None, None, None]
    assert 890 <= (second.acquire(code) or 0) <= 900  # the 4th code, asked of another replica
    keys = [key.decode() for key in redis.Redis(port=redis_port, db=2).keys("*")]
    assert keys and all(key.startswith("LIMITER/larkspur/") for key in keys)
    assert not any("anna" in key or "rest:" in key for key in keys)


@pytest.mark.slow
def test_a_storage_that_does_not_answer_lets_requests_through(tmp_path, caplog):
    service, port = start_redis(tmp_path)
    limiter = Limiter(f"redis://127.0.0.1:{port}/0")
    check = Check(RateLimitList.validate("1/minute"), "sender", "rest:x")
    assert limiter.acquire(check) is None and limiter.acquire(check) == 60
    service.stop()
    started = time.monotonic()
    assert limiter.acquire(check) is None
    assert time.monotonic() - started < 5
    assert "rate limit storage failed; the request is let through" in caplog.text


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwards_it():
    nginx = TrustedProxies.validate("127.0.0.1,10.0.0.0/8")
    assert client_address("203.0.113.9", "198.51.100.1", nginx) == "203.0.113.9"  # not a proxy: its header is ignored
    assert client_address("127.0.0.1", None, nginx) == "127.0.0.1"
    assert client_address("127.0.0.1", "198.51.100.7", nginx) == "198.51.100.7"
    # A client that writes its own X-Forwarded-For cannot choose its address: the proxies append the real one.
    assert client_address("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.0.0.5", nginx) == "198.51.100.7"
    assert client_address("127.0.0.1", "10.0.0.4, 10.0.0.5", nginx) == "10.0.0.4"
    assert client_address("127.0.0.1", "1.2.3.4", TrustedProxies()) == "127.0.0.1"  # no proxy trusted


class App:
    """What the wrapper reads of Rasa's Sanic app: `app.ctx.agent.domain`."""

    def __init__(self, domain: Domain | None):
        agent = type("Agent", (), {"domain": domain})() if domain else None
        self.ctx = type("Ctx", (), {"agent": agent})()


POLITE = "Slow down a little, please."
DOMAIN_WITH_IT = Domain.from_dict({"responses": {"utter_slow_down": [{"text": POLITE}]}})


def test_the_polite_message_comes_from_the_domain_and_the_fallback_only_without_it():
    assert slow_down_text(App(DOMAIN_WITH_IT)) == POLITE
    assert slow_down_text(App(Domain.empty())) == SLOW_DOWN_FALLBACK
    assert slow_down_text(App(None)) == SLOW_DOWN_FALLBACK
    project = Domain.load(str(REPO / "domain.yml"))
    assert slow_down_text(App(project)) == project.responses["utter_slow_down"][0]["text"]


def sender_limited(limit: str) -> tuple[list[UserMessage], object]:
    handled: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:  # stands in for Rasa's agent.handle_message
        handled.append(message)

    settings = RateLimitSettings.from_env({"RATE_LIMIT_PER_SENDER": limit})
    return handled, limit_by_sender(on_new_message, App(DOMAIN_WITH_IT), Limiter(), settings)


def test_a_messaging_sender_over_its_limit_is_told_politely_and_the_message_is_not_handled():
    handled, handler = sender_limited("2/minute")
    output = CollectingOutputChannel()
    for text in ("one", "two", "three"):
        asyncio.run(handler(UserMessage(text, output, "whatsapp:+31612345678", input_channel="whatsapp")))
    assert [message.text for message in handled] == ["one", "two"]
    assert output.messages == [{"recipient_id": "whatsapp:+31612345678", "text": POLITE}]
    asyncio.run(handler(UserMessage("hi", output, "slack:T1:U2", input_channel="slack")))  # another sender
    assert [message.text for message in handled] == ["one", "two", "hi"]


def test_a_rest_sender_over_its_limit_gets_rate_limited_with_the_wait_and_the_message():
    handled, handler = sender_limited("1/minute")
    asyncio.run(handler(UserMessage("one", CollectingOutputChannel(), "rest:abc", input_channel="rest")))
    output = CollectingOutputChannel()
    with pytest.raises(RateLimited) as refused:
        asyncio.run(handler(UserMessage("two", output, "rest:abc", input_channel="rest")))
    assert refused.value.retry_after == 60 and refused.value.message == POLITE
    assert len(handled) == 1 and output.messages == []
