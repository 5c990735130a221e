"""One correlation id through every process, read back from the JSON logs the real processes write.

Without the model: the demo shop alone (the id it takes, echoes and logs; a new one for a bad or missing header),
then the action server called as Rasa calls it, with a tracker whose latest message carries an id (the action
server's log line, the demo shop's log line of the backend call, the handoff ticket). With the model: one REST
message through Rasa, which hands the id to all of them and answers it back.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from foundation import correlation
from tests.conftest import ShopApi
from tests.support.action_server import start_action_server
from tests.support.conversation import DOMAIN, make_tracker
from tests.support.processes import start_demoshop
from tests.support.stack import MODEL, new_sender, start_stack

pytestmark = pytest.mark.slow
TOKEN = "correlation-test-action-server-token-0123456789"


def log_lines(path: Path, keep: Callable[[dict], bool], timeout: float = 5.0) -> list[dict]:
    """The JSON lines of a process's log that `keep` accepts, waiting a little for the first one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in map(json.loads, path.read_text().splitlines()) if keep(line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def with_id(value: str, **fields: str) -> Callable[[dict], bool]:
    return lambda line: line.get("correlation_id") == value and all(line.get(k) == v for k, v in fields.items())


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("correlation")
    shop, shop_url = start_demoshop(tmp)
    try:
        actions, port = start_action_server(tmp, shop_url, TOKEN)
    except BaseException:
        shop.stop()
        raise
    try:
        yield shop, ShopApi(shop_url), actions, f"http://127.0.0.1:{port}"
    finally:
        actions.stop()
        shop.stop()


# --- the demo shop ------------------------------------------------------------------------------------------------


def test_the_shop_echoes_and_logs_a_valid_incoming_id(servers):
    shop, api, _, _ = servers
    sent = f"shop-{uuid.uuid4().hex[:12]}"
    answer = api.get("/v1/orders/10001", headers={"X-Request-ID": sent})
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == sent
    (line,) = log_lines(shop.log_path, with_id(sent, message="request", path="/v1/orders/10001"))
    assert line["status"] == 200 and "request_id" not in line  # one key for the id


@pytest.mark.parametrize("header", [None, "short", "not valid!", "x" * 129], ids=str)
def test_the_shop_replaces_a_missing_or_invalid_id_with_a_new_one_and_no_request_inherits_another(servers, header):
    shop, api, _, _ = servers
    before = f"before-{uuid.uuid4().hex[:12]}"
    assert api.get("/v1/orders/10001", headers={"X-Request-ID": before}).headers["X-Request-ID"] == before
    headers = {"X-Request-ID": header} if header else {}
    given = api.get("/v1/orders/10001", headers=headers).headers["X-Request-ID"]
    assert correlation.valid(given) and given not in (header, before)  # waitress's threads keep no old id
    assert log_lines(shop.log_path, with_id(given, message="request"))


def test_a_redelivered_ticket_under_a_new_id_replays_the_first(servers):
    _, api, _, _ = servers
    ticket = {"queue": "general", "subject": "Replay", "summary": "Asked twice.", "correlation_id": "first-000001"}
    key = uuid.uuid4().hex
    first = api.post("/v1/tickets", json=ticket, key=key)
    again = api.post("/v1/tickets", json={**ticket, "correlation_id": "second-00002"}, key=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["correlation_id"] == "first-000001"
    changed = api.post("/v1/tickets", json={**ticket, "summary": "Something else."}, key=key)
    assert changed.status_code == 422  # the ticket itself still may not change under one key


# --- the action server, called as Rasa calls it ------------------------------------------------------------------


def handoff_call(sender_id: str, metadata: dict) -> dict:
    tracker = make_tracker("I want a person", "human_handoff", metadata=metadata, sender_id=sender_id)
    return {
        "next_action": "action_handoff",
        "sender_id": sender_id,
        "tracker": tracker.current_state(),
        "domain": DOMAIN,
    }


def test_the_id_of_the_trackers_latest_message_reaches_the_logs_the_backend_and_the_ticket(servers):
    shop, api, actions, url = servers
    sent, sender = f"msg-{uuid.uuid4().hex}", f"rest:{secrets.token_urlsafe(24)}"
    answer = requests.post(
        f"{url}/webhook",
        json=handoff_call(sender, {"correlation_id": sent}),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert any(e.get("event") == "pause" for e in answer.json()["events"])  # the handoff went through
    (call,) = log_lines(actions.log_path, with_id(sent, message="backend call", operation="create_ticket"))
    assert call["outcome"] == "ok" and "request_id" not in call
    (received,) = log_lines(shop.log_path, with_id(sent, message="request", method="POST", path="/v1/tickets"))
    assert received["status"] == 201  # the shop's id is the X-Request-ID it received
    (ticket,) = api.get("/v1/tickets", params={"conversation_id": sender}).json()["tickets"]
    assert ticket["correlation_id"] == sent


def test_a_call_without_a_usable_id_runs_under_a_new_one_all_the_same(servers):
    shop, api, actions, url = servers
    sender = f"rest:{secrets.token_urlsafe(24)}"
    answer = requests.post(
        f"{url}/webhook",
        json=handoff_call(sender, {"correlation_id": "bad id"}),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    (ticket,) = api.get("/v1/tickets", params={"conversation_id": sender}).json()["tickets"]
    made = ticket["correlation_id"]
    assert correlation.valid(made) and made != "bad id"
    assert log_lines(actions.log_path, with_id(made, message="backend call", operation="create_ticket"))
    assert log_lines(shop.log_path, with_id(made, message="request", path="/v1/tickets"))


# --- one REST message through Rasa -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is missing: run `make train`")
    # DEBUG: Rasa logs the turn step by step (lock, NLU, policies, actions), and each of those lines must carry the id
    running = start_stack(tmp_path_factory.mktemp("correlation-stack"), rasa_env={"LOG_LEVEL": "DEBUG"})
    yield running
    running.stop()


def tracker_events(stack, conversation: str) -> list[dict]:
    answer = requests.get(f"{stack.rasa_url}/conversations/{conversation}/tracker", timeout=30)
    answer.raise_for_status()
    return answer.json()["events"]


def test_one_rest_message_carries_its_id_through_rasa_the_action_server_the_shop_and_the_ticket(stack):
    sent, sender = f"web-{uuid.uuid4().hex}", new_sender()
    rasa_log = Path(stack.rasa.log_path)
    before = len(rasa_log.read_text().splitlines())
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": "I want to talk to a real person please"},
        headers={"X-Request-ID": sent},
        timeout=60,
    )
    assert answer.status_code == 200 and answer.json(), answer.text
    assert answer.headers["X-Request-ID"] == sent
    turn = [json.loads(line) for line in rasa_log.read_text().splitlines()[before:]]
    assert turn and [line for line in turn if line["correlation_id"] != sent] == []  # every line of Rasa's turn
    (user,) = [e for e in tracker_events(stack, f"rest:{sender}") if e["event"] == "user"]
    assert user["metadata"]["correlation_id"] == sent  # stored with the message
    assert log_lines(stack.actions.log_path, with_id(sent, message="backend call", operation="create_ticket"))
    assert log_lines(stack.shop.log_path, with_id(sent, message="request", method="POST", path="/v1/tickets"))
    (ticket,) = (
        ShopApi(stack.shop_url).get("/v1/tickets", params={"conversation_id": f"rest:{sender}"}).json()["tickets"]
    )
    assert ticket["correlation_id"] == sent


def test_a_rest_message_without_a_usable_id_gets_one_and_a_client_cannot_set_it_in_the_metadata(stack):
    sender = new_sender()
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": "hello", "metadata": {"correlation_id": "client-claim-01"}},
        headers={"X-Request-ID": "no"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    given = answer.headers["X-Request-ID"]
    assert correlation.valid(given) and given not in ("no", "client-claim-01")
    (user,) = [e for e in tracker_events(stack, f"rest:{sender}") if e["event"] == "user"]
    assert user["metadata"]["correlation_id"] == given


def test_a_refused_rest_request_answers_its_id_too(stack):
    answer = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        data=b"not json",
        headers={"X-Request-ID": "refused-0001"},
        timeout=30,
    )
    assert answer.status_code == 400 and answer.headers["X-Request-ID"] == "refused-0001"
