"""The REST webhook of a real Rasa server: who may enter which conversation, and what it refuses."""

from __future__ import annotations

import secrets
import uuid

import pytest
import requests

from channels import sessions
from tests.support.metrics_scrape import family_total, moved, scrape
from tests.support.stack import new_sender, start_stack

pytestmark = pytest.mark.slow
SECRET = "rest-session-secret-for-the-tests-0123456789"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("rest"), rasa_env={"REST_SESSION_SECRET": SECRET})
    yield running
    running.stop()


def post(stack, body, **kwargs) -> requests.Response:
    return requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", timeout=60, **kwargs, json=body)


def tracker(stack, conversation: str) -> dict:
    answer = requests.get(f"{stack.rasa_url}/conversations/{conversation}/tracker", timeout=30)
    answer.raise_for_status()
    return answer.json()


def user_messages(stack, conversation: str) -> list[dict]:
    return [e for e in tracker(stack, conversation)["events"] if e["event"] == "user"]


@pytest.mark.parametrize(
    "sender", ["alice", "whatsapp:+31612345678", str(uuid.uuid4()), uuid.uuid4().hex, "slack:T1:U1"]
)
def test_guessable_senders_are_refused_and_enter_no_conversation(stack, sender):
    answer = post(stack, {"sender": sender, "message": "where is my refund?"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "sender_not_accepted"
    assert user_messages(stack, sender) == [] and user_messages(stack, f"rest:{sender}") == []


def test_an_unguessable_sender_gets_its_own_namespaced_conversation_whatever_channel_it_claims(stack):
    sender = new_sender()
    answer = post(stack, {"sender": sender, "message": "hi", "input_channel": "whatsapp"})
    assert answer.status_code == 200 and answer.json(), answer.text
    (message,) = user_messages(stack, f"rest:{sender}")
    assert message["input_channel"] == "rest"
    assert user_messages(stack, sender) == []  # the bare id is nobody's conversation


def test_a_signed_session_token_admits_its_sender_and_stays_out_of_the_tracker(stack):
    sender = f"customer-{secrets.randbelow(10**6)}"
    token = sessions.issue(sender, secret=SECRET, max_age=600)
    answer = post(stack, {"sender": sender, "message": "hello", "metadata": {"session_token": token, "page": "/x"}})
    assert answer.status_code == 200, answer.text
    (message,) = user_messages(stack, f"rest:{sender}")
    assert message["metadata"]["page"] == "/x" and "session_token" not in message["metadata"]
    other = post(stack, {"sender": f"{sender}0", "message": "hello", "metadata": {"session_token": token}})
    assert other.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"sender": 5, "message": "hi"}',
        b'{"message": "hi"}',
        b'{"sender": "' + b"q" * 300 + b'", "message": "hi"}',
    ],
)
def test_bodies_that_are_not_messages_get_a_json_400(stack, body):
    answer = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", data=body, timeout=30)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_message"


def test_two_rest_messages_move_the_rasa_servers_counters_on_its_metrics_port(stack):
    sender = new_sender()
    before = scrape(stack.rasa_metrics_url)
    answers = [post(stack, {"sender": sender, "message": text}) for text in ("hi", "hello")]
    after = scrape(stack.rasa_metrics_url)
    assert all(answer.status_code == 200 and answer.json() for answer in answers), [a.text for a in answers]
    assert moved(before, after, "assistant_messages_received_total", channel="rest") == 2
    assert moved(before, after, "assistant_turn_seconds_count", channel="rest") == 2
    assert moved(before, after, "assistant_lock_wait_seconds_count") == 2
    assert moved(before, after, "assistant_messages_sent_total", channel="rest") == sum(len(a.json()) for a in answers)
    assert family_total(after, "assistant_intents_total") - family_total(before, "assistant_intents_total") == 2
    assert moved(before, after, "assistant_intents_total", intent="greet") == 2
    assert moved(before, after, "assistant_turn_errors_total") == 0


def test_the_requests_id_is_the_messages_id_and_a_retry_of_it_is_answered_from_the_store(stack):
    sender = new_sender()
    request_id = f"retry-test-{secrets.token_hex(8)}"
    body = {"sender": sender, "message": "how long does delivery take?"}
    first = post(stack, body, headers={"X-Request-ID": request_id})
    assert first.status_code == 200 and first.json(), first.text
    assert first.headers["X-Request-ID"] == request_id
    (message,) = user_messages(stack, f"rest:{sender}")
    assert message["message_id"] == request_id and message["metadata"]["correlation_id"] == request_id
    retry = post(stack, body, headers={"X-Request-ID": request_id})  # nginx's retry of a turn already stored
    assert retry.status_code == 200 and retry.json() == first.json()
    assert len(user_messages(stack, f"rest:{sender}")) == 1
    fresh = post(stack, body)  # no id sent: the channel's new one, answered back
    assert fresh.status_code == 200 and fresh.json()
    assert [m["message_id"] for m in user_messages(stack, f"rest:{sender}")] == [
        request_id,
        fresh.headers["X-Request-ID"],
    ]
