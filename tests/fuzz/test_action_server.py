"""The action server under fuzzing: action calls with the bearer token (so they reach the tracker check and the
actions), and the same without it or with a wrong one (all 401), every refusal a JSON error."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import yaml
from hypothesis import strategies as st

from foundation import REPO
from tests.fuzz import strategies as hostile
from tests.fuzz.budget import FuzzBudget
from tests.fuzz.conftest import ACTIONS_TOKEN
from tests.fuzz.runner import fuzz, http_send, still_answers
from tests.fuzz.tally import Answer, Sent, Tally

pytestmark = pytest.mark.slow
DOMAIN = yaml.safe_load((REPO / "domain.yml").read_text())


def is_rasa_rejection(answer: Answer) -> bool:
    """rasa-sdk's answer to an action that rejects its call: 400 `{"error": "...", "action_name": "..."}`, the
    shape Rasa itself reads (rasa.core.actions.action.RemoteAction), so it is not the project's error shape."""
    try:
        body = json.loads(answer.body)
    except ValueError:
        return False
    return answer.status == 400 and isinstance(body, dict) and isinstance(body.get("action_name"), str)


def action_calls(action_names: list[str]) -> st.SearchStrategy[tuple[bytes, str]]:
    events = st.lists(
        st.one_of(
            hostile.fixed({"event": st.sampled_from(["user", "bot", "slot", "action", "active_loop"]),
                           "timestamp": st.floats(0, 2e9), "name": hostile.texts(), "text": hostile.texts(),
                           "value": hostile.json_values()}),
            hostile.json_values(),
        ),
        max_size=6,
    )  # fmt: skip
    tracker = hostile.fixed(
        {
            "sender_id": hostile.hostile_ids(),
            "slots": st.dictionaries(st.sampled_from(sorted(DOMAIN.get("slots", {})) or ["x"]), hostile.json_values()),
            "latest_message": hostile.fixed(
                {"text": hostile.texts(), "intent": hostile.fixed({"name": hostile.texts()}),
                 "entities": st.lists(hostile.json_values(), max_size=3), "metadata": hostile.json_values()}
            ),
            "events": events,
            "paused": st.booleans(),
            "followup_action": st.none() | hostile.texts(),
            "active_loop": st.none() | hostile.fixed({"name": hostile.texts()}),
            "latest_action_name": st.none() | hostile.texts(),
        }
    )  # fmt: skip
    call = hostile.fixed(
        {
            "next_action": st.one_of(st.sampled_from(action_names), hostile.texts()),
            "sender_id": hostile.hostile_ids(),
            "tracker": tracker,
            "domain": st.one_of(st.just(DOMAIN), st.just(DOMAIN), hostile.json_values()),
            "version": st.just("3.6.21"),
        }
    )
    return hostile.json_bodies(call)


def _requests(action_names: list[str], auth: st.SearchStrategy[dict[str, str]]) -> st.SearchStrategy[Sent]:
    return st.builds(
        lambda method, path, headers, payload: Sent(method, path, {**headers, "Content-Type": payload[1]}, payload[0]),
        hostile.methods("POST"),
        st.sampled_from(["/webhook", "/webhook", "/webhook", "/webhook/", "/actions", "/", "/nothing", "/health"]),
        auth,
        action_calls(action_names),
    )


@pytest.fixture(scope="module")
def action_names(fuzz_actions: str) -> list[str]:
    listed = requests.get(f"{fuzz_actions}/actions", headers={"Authorization": f"Bearer {ACTIONS_TOKEN}"}, timeout=30)
    names: list[Any] = [entry["name"] for entry in listed.json()]
    assert names, "the action server lists no actions"
    return names


def _run(tally: Tally, strategy: st.SearchStrategy[Sent], base: str, budget: FuzzBudget) -> None:
    send = http_send(requests.Session(), base)

    def checked(request: Sent) -> tuple[Sent, Answer]:
        sent, answer = send(request)
        if is_rasa_rejection(answer):  # Rasa's protocol, not a project error: count it, do not judge its shape
            answer = Answer(answer.status, "application/json", b'{"error":{"code":"rejected","message":""}}')
        return sent, answer

    fuzz(tally, strategy, checked, budget)
    tally.healthy_after = still_answers(f"{base}/health")
    assert not tally.failures and tally.healthy_after, tally.explain()


def test_action_server_with_token(fuzz_actions: str, action_names, budget: FuzzBudget, tally: Tally) -> None:
    auth = st.just({"Authorization": f"Bearer {ACTIONS_TOKEN}"})
    _run(tally, _requests(action_names, auth), fuzz_actions, budget)


def test_action_server_without_token(fuzz_actions: str, action_names, budget: FuzzBudget, tally: Tally) -> None:
    auth = st.sampled_from(
        [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer wrong"}, {"Authorization": ACTIONS_TOKEN},
         {"Authorization": f"Basic {ACTIONS_TOKEN}"}, {"Authorization": f"Bearer {ACTIONS_TOKEN}x"}]
    )  # fmt: skip
    _run(tally, _requests(action_names, auth), fuzz_actions, budget)
    assert not {s for s in tally.statuses if s not in ("401", "200")} - {"404", "405"}, tally.histogram()
