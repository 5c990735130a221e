"""With the action server gone, a turn that needs a custom action still gets an answer: the apology and the offer
of a person (rasa_runtime/action_server_outage.py), through the REST channel of a real Rasa server whose action
server has been stopped."""

from __future__ import annotations

import pytest

from tests.support.stack import new_sender, start_stack

pytestmark = pytest.mark.slow

APOLOGY = "something went wrong on our side"
OFFER = "pass this to a colleague"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("outage"))
    yield running
    running.stop()


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def test_with_the_action_server_down_the_shopper_hears_the_apology_and_the_offer_of_a_person(stack):
    sender = new_sender()
    before = texts(stack.say(sender, "where is my refund?"))
    assert APOLOGY not in before.lower()  # the action server answers: no apology

    stack.actions.stop()
    answer = stack.say(new_sender(), "where is my refund?")
    said = texts(answer).lower()
    assert APOLOGY in said
    assert OFFER in said
    assert said.count(APOLOGY) == 1  # once per turn, however many custom actions failed
    buttons = [b["payload"] for m in answer for b in m.get("buttons") or []]
    assert "/affirm" in buttons


def test_a_turn_without_custom_actions_is_answered_as_usual(stack):
    said = texts(stack.say(new_sender(), "do you offer free shipping")).lower()
    assert said and APOLOGY not in said
