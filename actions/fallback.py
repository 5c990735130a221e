"""The fallback: a message the assistant is unsure of gets a clarifying question ("Do you mean A or B?",
actions/clarification.py), or a request to rephrase when no reading is worth offering; an off-topic one gets a
decline that says what the assistant can do; the second miss in a row offers a person.
No business action ever runs on a guess: this action only talks."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clarification
from actions.observability import FALLBACKS

MISSES = ("nlu_fallback", "out_of_scope")


def consecutive_misses(tracker: Tracker) -> int:
    """How many of the shopper's latest messages in a row the assistant could not handle."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in MISSES:
            break
        count += 1
    return max(count, 1)


def answered_this_turn(tracker: Tracker) -> bool:
    """True when an action already answered the shopper's latest message.

    Then the fallback was predicted only because no rule says what follows that action (for example a
    business action run as a follow-up of a correction): the turn is complete and there is nothing to
    apologise for.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in ("action_listen", "action_fallback"):
            return True
    return False


class ActionFallback(Action):
    """Answer a message the assistant did not understand, or that no shop could answer."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        # Always hand the turn back to the shopper: as Rasa's core fallback this action is predicted when no
        # rule knows the next step, and without a listen the prediction loop would run it until Rasa's
        # action limit trips, which leaves the conversation unable to answer again.
        return [*self._answer(dispatcher, tracker, domain), FollowupAction("action_listen")]

    @staticmethod
    def _answer(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if answered_this_turn(tracker):
            return []
        misses = consecutive_misses(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if misses < 2:
            if intent == "out_of_scope":
                FALLBACKS.labels("decline").inc()
                dispatcher.utter_message(response="utter_out_of_scope")
                return []
            readings = clarification.options(tracker.latest_message, domain)
            if readings:
                FALLBACKS.labels("clarify").inc()
                clarification.ask(dispatcher, readings, domain)
                return []
            FALLBACKS.labels("rephrase").inc()
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        FALLBACKS.labels("offer_handoff").inc()
        if tracker.active_loop.get("name"):
            dispatcher.utter_message(response="utter_still_not_following")
            return []
        dispatcher.utter_message(response="utter_offer_handoff")
        return [SlotSet("pending", "handoff"), SlotSet("handoff_reason", "fallback")]
