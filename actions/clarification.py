"""Clarifying a message the assistant is unsure of: "Do you mean A or B?", and answering the pick.

When the NLU's best two guesses are close, or its best guess is middling, acting on the guess would start the
wrong flow and a plain "say it another way" throws the message away. Instead the shopper is offered the two
best readings as buttons, named in shopper language (the `utter_option_<intent>` responses of the domain: one
table a retailer edits in YAML). Each button carries the original message's entities, so "refund for 10042?"
continues with order 10042 once the shopper picks. A FAQ topic is picked through `choose_faq`, answered with
the topic's own response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

# The requests a shopper makes of the shop (its business intents and asking for a person).
REQUESTS = (
    "check_order_status",
    "check_refund_status",
    "request_refund",
    "cancel_order",
    "change_shipping_address",
    "report_payment_issue",
    "request_invoice",
    "update_account",
    "human_handoff",
)
# What a clarifying question may offer: requests, help and FAQ topics, not chat moves ("yes", "hi", "stop").
OFFERABLE = frozenset({*REQUESTS, "help", "faq"})
# A reading below this share of the probability is not worth a button.
MIN_CONFIDENCE = 0.10
FAQ = "faq"
CHOOSE_FAQ = "choose_faq"
FAQ_TOPIC = "faq_topic"
# Entities a button passes on to the flow the shopper picks.
CARRIED_ENTITIES = ("order_id", "email", "phone", "address")


@dataclass(frozen=True)
class Option:
    """One reading of the message: what it is (`key`: an intent, or `faq/<topic>`), how sure, the button."""

    key: str
    confidence: float
    payload: str

    @property
    def response(self) -> str:
        """The domain response that names this reading to the shopper."""
        return "utter_option_" + self.key.replace("/", "_")


def _faq_topics(message: dict[str, Any], faq_confidence: float) -> list[tuple]:
    """(topic key, joint confidence) of the FAQ topics the response selector ranked, best first."""
    ranking = (((message.get("response_selector") or {}).get(FAQ) or {}).get("ranking")) or []
    return [
        (entry["intent_response_key"], faq_confidence * float(entry["confidence"]))
        for entry in ranking
        if entry.get("intent_response_key")
    ]


def _entities(message: dict[str, Any]) -> dict[str, str]:
    """The entities of the message worth carrying on, first value of each."""
    carried: dict[str, str] = {}
    for entity in message.get("entities") or []:
        name, value = entity.get("entity"), entity.get("value")
        if name in CARRIED_ENTITIES and isinstance(value, str) and name not in carried:
            carried[name] = value
    return carried


def payload(key: str, entities: dict[str, str]) -> str:
    """The button payload that replays the message as `key` with its entities: `/intent{"order_id": "10042"}`."""
    if key.startswith(FAQ + "/"):
        return f"/{CHOOSE_FAQ}" + json.dumps({FAQ_TOPIC: key.split("/", 1)[1]})
    return f"/{key}" + (json.dumps(entities, ensure_ascii=False) if entities else "")


def options(message: dict[str, Any], domain: dict[str, Any], most: int = 2) -> list[Option]:
    """The best readings of the message worth offering, best first (at most `most`).

    The ranking is the classifier's, under the fallback's own entry; `faq` stands for its best topics, each
    with its share of the FAQ probability. A reading needs a name in the domain to be offered.
    """
    responses = domain.get("responses") or {}
    entities = _entities(message)
    scored: list[tuple] = []
    for entry in message.get("intent_ranking") or []:
        name, confidence = entry.get("name"), float(entry.get("confidence") or 0.0)
        if name not in OFFERABLE:
            continue
        if name == FAQ:
            scored += _faq_topics(message, confidence)[:most]
        else:
            scored.append((name, confidence))
    scored.sort(key=lambda item: -item[1])
    chosen = [
        Option(key, confidence, payload(key, entities)) for key, confidence in scored if confidence >= MIN_CONFIDENCE
    ]
    return [option for option in chosen if option.response in responses][:most]


def label(option: Option, domain: dict[str, Any]) -> str:
    """The shopper-language name of a reading, from the domain's `utter_option_…` response."""
    variants = (domain.get("responses") or {}).get(option.response) or [{}]
    return variants[0].get("text") or option.key


def ask(dispatcher: CollectingDispatcher, readings: list[Option], domain: dict[str, Any]) -> None:
    """Ask which reading the shopper meant, with a button each and one for something else."""
    buttons = [{"title": label(option, domain), "payload": option.payload} for option in readings]
    buttons.append({"title": label(Option("something_else", 0.0, ""), domain), "payload": "/nlu_fallback"})
    names = [label(option, domain) for option in readings]
    if len(names) == 1:
        dispatcher.utter_message(response="utter_clarify_one", buttons=buttons, first=names[0])
    else:
        dispatcher.utter_message(response="utter_clarify", buttons=buttons, first=names[0], second=names[1])


class ActionAnswerChosenFaq(Action):
    """Answer the FAQ topic the shopper picked from a clarifying question (`/choose_faq{"faq_topic": …}`)."""

    def name(self) -> str:
        return "action_answer_chosen_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        topic = next(tracker.get_latest_entity_values(FAQ_TOPIC), None)
        response = chosen_faq_response(topic, domain)
        dispatcher.utter_message(response=response or "utter_ask_rephrase")
        return []


def chosen_faq_response(topic: str | None, domain: dict[str, Any]) -> str | None:
    """The domain response of an FAQ topic, or None for a topic the domain does not answer."""
    if not topic:
        return None
    name = f"utter_{FAQ}/{topic}"
    return name if name in (domain.get("responses") or {}) else None
