"""Which REST sender ids and session tokens may enter a conversation (channels/sessions.py)."""

from __future__ import annotations

import secrets
import uuid

import pytest

from channels import sessions
from channels.rest import BadMessage, conversation_id, parse_message

SECRET = "rest-session-secret-for-the-tests-0123456789"
SETTINGS = sessions.SessionSettings.from_env({"REST_SESSION_SECRET": SECRET, "REST_SESSION_MAX_AGE": "3600"})


@pytest.mark.parametrize(
    "sender",
    [
        secrets.token_urlsafe(16),  # 22 characters, 128 bits
        secrets.token_urlsafe(32),  # what the web widget sends
        secrets.token_hex(20),  # 40 hex digits, 160 bits
    ],
)
def test_ids_with_128_random_bits_are_accepted(sender):
    assert sessions.random_enough(sender)


@pytest.mark.parametrize(
    "sender",
    [
        "alice",
        "whatsapp:+31612345678",  # another channel's key
        "+31612345678",
        str(uuid.uuid4()),  # 122 random bits
        uuid.uuid4().hex,
        secrets.token_hex(16),  # 32 hex digits: the form of a UUID
        secrets.token_urlsafe(15),  # 20 characters, 120 bits
        "a" * 40,
        "abababababababababababab",
        "x" * 200,
    ],
)
def test_guessable_ids_are_refused(sender):
    assert not sessions.random_enough(sender)


def test_a_session_token_vouches_for_its_own_sender_only():
    token = sessions.issue("customer-1001", secret=SECRET, max_age=600)
    assert sessions.admissible("customer-1001", {"session_token": token}, SETTINGS)
    assert not sessions.admissible("customer-1002", {"session_token": token}, SETTINGS)
    assert not sessions.admissible("customer-1001", {}, SETTINGS)


def test_expired_forged_too_long_and_unconfigured_tokens_vouch_for_nobody():
    expired = sessions.issue("customer-1001", secret=SECRET, max_age=600, now=1_000_000)
    forged = sessions.issue("customer-1001", secret="another-secret-of-enough-length-0123", max_age=600)
    too_long = sessions.issue("customer-1001", secret=SECRET, max_age=7200)  # over REST_SESSION_MAX_AGE
    for token in (expired, forged, too_long, "not-a-jwt", 42, None):
        assert not sessions.token_vouches_for(token, "customer-1001", SETTINGS)
    fresh = sessions.issue("customer-1001", secret=SECRET, max_age=600)
    assert not sessions.token_vouches_for(fresh, "customer-1001", sessions.SessionSettings.from_env({}))


@pytest.mark.parametrize(
    "body,problem",
    [
        (b"", "JSON"),
        (b"not json", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"message": "hi"}', "sender"),
        (b'{"sender": 12, "message": "hi"}', "sender"),
        (b'{"sender": "' + b"s" * 129 + b'", "message": "hi"}', "sender"),
        (b'{"sender": "abc", "message": null}', "message"),
        (b'{"sender": "abc", "message": "' + b"m" * 5001 + b'"}', "message"),
        (b'{"sender": "abc", "message": "hi", "metadata": [1]}', "metadata"),
        (b"\xff\xfe", "JSON"),
        (b'{"sender": "abc", "message": "\\ud800"}', "Unicode"),  # a lone surrogate
    ],
)
def test_bodies_that_are_not_a_message_are_refused_with_the_reason(body, problem):
    with pytest.raises(BadMessage, match=problem):
        parse_message(body)


def test_rest_conversations_are_namespaced():
    assert conversation_id("abc") == "rest:abc"
    assert parse_message(b'{"sender": "abc", "message": "hi"}') == ("abc", "hi", {})
