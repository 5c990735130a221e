"""The service form: collects what a request needs, in order: who the shopper is (unless a signed channel
token already says so), which order, and the new address or contact detail. Which slots it needs follows
the goal, so switching topic mid-way keeps what the shopper already said."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import customer_token
from actions.addresses import COUNTRIES, parse_address
from actions.backends import Unavailable
from actions.backends.request_context import request_id
from actions.base import Turn
from actions.contact_details import classify_contact, find_email, looks_like_partial_email
from actions.order_choice import pick_order

NEEDS_ORDER = {"order_status", "refund_status", "request_refund", "cancel_order", "change_address",
               "payment_issue", "invoice"}
MAX_CODE_ATTEMPTS = 3
VERIFYING = ("login_email", "verification_code")
REFERS_BACK = re.compile(r"\b(it|its|it's|that|this|same|the order|that one|this one)\b", re.I)


def entity_values(tracker: Tracker, entity: str) -> List[str]:
    """Distinct values of one entity in the latest message ("#10234" counts as 10234)."""
    seen: List[str] = []
    for e in tracker.latest_message.get("entities") or []:
        value = str(e.get("value", "")).strip()
        if entity == "order_id":
            value = value.lstrip("#")
        if e.get("entity") == entity and value and value not in seen:
            seen.append(value)
    return seen


def entity_span(tracker: Tracker, entity: str) -> Optional[str]:
    """The message text from the first to the last piece of an entity the model split ("street, postcode city")."""
    pieces = [e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == entity
              and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)]
    if not pieces:
        return None
    text = tracker.latest_message.get("text") or ""
    return text[min(e["start"] for e in pieces):max(e["end"] for e in pieces)].strip() or None


def order_ids(tracker: Tracker) -> List[str]:
    """Order numbers in the latest message, leaving out digits inside an address (a postcode such as 10115)."""
    entities = tracker.latest_message.get("entities") or []
    addresses = [(e["start"], e["end"]) for e in entities
                 if e.get("entity") == "address" and isinstance(e.get("start"), int)]
    if tracker.get_slot("requested_slot") == "new_address":
        return []
    found: List[str] = []
    for e in entities:
        if e.get("entity") != "order_id":
            continue
        start = e.get("start")
        if isinstance(start, int) and any(a <= start < b for a, b in addresses):
            continue
        value = str(e.get("value", "")).strip().lstrip("#")
        if value and value not in found:
            found.append(value)
    return found


def previous_value(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                break
            seen_user = True
            continue
        if seen_user and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


class ValidateServiceForm(FormValidationAction):
    """Dynamic slots, extraction and validation of `service_form`."""

    def name(self) -> Text:
        return "validate_service_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]):
        events: List[Dict[str, Any]] = []
        metadata = tracker.latest_message.get("metadata") or {}
        vouched = customer_token.verify(metadata.get(customer_token.METADATA_KEY))
        if vouched and tracker.get_slot("customer_id") != vouched:
            events.append(SlotSet("customer_id", vouched))
            tracker.add_slots(events)
        turn = Turn(dispatcher, tracker, domain)
        with request_id(f"{turn.conversation}-{len(tracker.events)}"):
            return events + await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        goal = tracker.get_slot("goal")
        slots = ["goal"]
        if not tracker.get_slot("customer_id"):
            if (tracker.get_slot("verification") or {}).get("failed"):
                return slots  # the form ends; the goal's action explains and offers a person
            slots += list(VERIFYING)
        if goal in NEEDS_ORDER:
            slots.append("order_id")
        if goal == "change_address":
            slots.append("new_address")
        if goal == "update_account":
            slots.append("new_contact")
        return slots

    async def next_requested_slot(self, dispatcher, tracker, domain):
        """Always name the next slot (the SDK leaves it to Rasa when the list equals the domain's)."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        return SlotSet("requested_slot", next((s for s in required if tracker.get_slot(s) is None), None))

    # --- goal ------------------------------------------------------------------------------------

    def validate_goal(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        """A new goal mid-form switches topic; but an answer to "what's your email?" that the model
        reads as "update my account" must not."""
        previous = previous_value(tracker, "goal")
        answering = tracker.get_slot("requested_slot") in VERIFYING and (
            entity_values(tracker, "email") or entity_values(tracker, "verification_code")
            or find_email(tracker.latest_message.get("text") or "")
        )
        if previous and previous != value and answering:
            return {"goal": previous}
        return {"goal": value}

    # --- identity --------------------------------------------------------------------------------

    async def extract_login_email(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "login_email":
            return {}
        text = tracker.latest_message.get("text") or ""
        # The whole address as typed first: an extractor may keep only the part it knows ("a@example.com" of
        # "emma.garcía@example.com").
        email = find_email(text) or next(iter(entity_values(tracker, "email")), None)
        if email:
            return {"login_email": email}
        return {"login_email": text} if latest_intent(tracker) == "inform" or "@" in text else {}

    async def validate_login_email(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        email = find_email(str(value))
        if not email:
            dispatcher.utter_message(response="utter_email_incomplete" if looks_like_partial_email(str(value))
                                     else "utter_email_invalid")
            return {"login_email": None}
        turn = Turn(dispatcher, tracker, domain)
        try:
            customer = await turn.call(turn.clients.crm.find_by_email, email)
            verification = {"customer_id": None, "verification_id": None, "attempts": 0}
            if customer is not None:
                started = await turn.call(turn.clients.crm.start_verification, customer.id,
                                          idempotency_key=turn.key("verify", email, len(tracker.events)))
                verification.update(customer_id=customer.id, verification_id=started.verification_id)
        except Unavailable:
            return {"login_email": email, "verification": {"failed": True, "reason": "unavailable"}}
        # The same words whether or not the address is known: the chat must not reveal who is a customer.
        dispatcher.utter_message(text=f"Thanks. If {email} is on our records, I've just sent a 6-digit code to it. "
                                      "It's valid for 10 minutes.")
        return {"login_email": email, "verification": verification}

    async def extract_verification_code(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "verification_code":
            return {}
        text = tracker.latest_message.get("text") or ""
        code = next(iter(entity_values(tracker, "verification_code")), None)
        found = re.search(r"(?<!\d)(\d[\d ]{4,8}\d)(?!\d)", text)
        if code or found:
            return {"verification_code": code or found.group(1)}
        return {"verification_code": text} if latest_intent(tracker) == "inform" else {}

    async def validate_verification_code(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        code = re.sub(r"\D", "", str(value))
        if len(code) != 6:
            dispatcher.utter_message(text="The code has 6 digits. Could you type it again?")
            return {"verification_code": None}
        state = dict(tracker.get_slot("verification") or {})
        turn = Turn(dispatcher, tracker, domain)
        state["attempts"] = int(state.get("attempts", 0)) + 1
        result = None
        if state.get("customer_id"):
            try:
                result = await turn.call(turn.clients.crm.check_verification, state["customer_id"],
                                         state["verification_id"], code,
                                         idempotency_key=turn.key("code", state, code))
            except Unavailable:
                return {"verification_code": None, "verification": {"failed": True, "reason": "unavailable"}}
        if result is not None and result.verified:
            return await self._verified(turn, state["customer_id"])
        if result is not None and result.status == "expired":
            started = await turn.call(turn.clients.crm.start_verification, state["customer_id"],
                                      idempotency_key=turn.key("verify-again", state))
            dispatcher.utter_message(text="That code has expired, so I've sent you a new one. Please type the new code.")
            return {"verification_code": None,
                    "verification": {**state, "verification_id": started.verification_id, "attempts": 0}}
        left = result.attempts_left if result is not None else MAX_CODE_ATTEMPTS - state["attempts"]
        if left <= 0 or (result is not None and result.status == "locked"):
            dispatcher.utter_message(text="That's three wrong codes, so I've stopped the check to protect your account.")
            return {"verification_code": None, "verification": {"failed": True, "reason": "locked"}}
        dispatcher.utter_message(text=f"That code isn't right. You have {left} more "
                                      f"{'try' if left == 1 else 'tries'}.")
        return {"verification_code": None, "verification": state}

    async def _verified(self, turn: Turn, customer_id: str) -> Dict[Text, Any]:
        slots: Dict[Text, Any] = {"verification_code": "verified", "customer_id": customer_id,
                                  "verification": {"customer_id": customer_id, "verified": True}}
        turn.say(text="Thanks, you're verified.")
        order_id = turn.slot("order_id")
        if order_id:
            turn.tracker.slots["customer_id"] = customer_id
            if await turn.owned_order(order_id) is None:
                turn.say(text=f"I couldn't find order {order_id} on your account, though.")
                slots["order_id"] = None
        elif turn.slot("goal") in NEEDS_ORDER:
            picked = await pick_order(turn, customer_id, turn.slot("goal"))
            if picked:
                slots["order_id"] = picked
        return slots

    # --- the order -------------------------------------------------------------------------------

    async def extract_order_id(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        """The order the request is about: named in the message, typed when asked, or the only likely one.

        A new request that names no order and does not refer back ("it", "that order") starts afresh,
        so an answer about the previous order is never given for the wrong one.
        """
        current = tracker.get_slot("order_id")
        ids = order_ids(tracker)
        text = tracker.latest_message.get("text") or ""
        requested = tracker.get_slot("requested_slot")
        if ids and ids[0] != current:
            return {"order_id": ids[0]}
        if requested == "new_address":
            return {}
        if requested == "order_id" and not ids:
            found = re.search(r"(?<!\d)#?(\d{3,8})(?!\d)", text)
            return {"order_id": found.group(1)} if found else {}
        starting = requested is None and not ids
        cleared = starting and current is not None and not REFERS_BACK.search(text)
        if cleared:
            current = None
        customer_id = tracker.get_slot("customer_id")
        if starting and not current and customer_id:
            picked = await pick_order(Turn(dispatcher, tracker, domain), customer_id, tracker.get_slot("goal"))
            if picked:
                return {"order_id": picked}
        return {"order_id": None} if cleared else {}

    async def validate_order_id(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if value is None:
            return {"order_id": None}
        order_id = str(value).strip().lstrip("#")
        if not re.fullmatch(r"\d{5}", order_id):
            dispatcher.utter_message(text="Order numbers have 5 digits, like 10234. Could you check yours? "
                                          "It's in your order confirmation email.")
            return {"order_id": None}
        turn = Turn(dispatcher, tracker, domain)
        if turn.customer_id and await turn.owned_order(order_id) is None:
            dispatcher.utter_message(text=f"I couldn't find order {order_id} on your account. Could you check the number?")
            return {"order_id": None}
        return {"order_id": order_id}

    # --- what changes ----------------------------------------------------------------------------

    async def extract_new_address(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        requested = tracker.get_slot("requested_slot")
        if tracker.get_slot("goal") != "change_address" or requested in VERIFYING:
            return {}
        if requested == "new_address" and latest_intent(tracker) in ("inform", "change_shipping_address", "nlu_fallback"):
            return {"new_address": tracker.latest_message.get("text")}  # asked for it: the whole answer is the address
        span = entity_span(tracker, "address")
        if not span:
            return {}
        text = tracker.latest_message.get("text") or ""
        rest = re.match(r"\s*,?\s*([A-Za-zÀ-ÿ ]+?)\s*[.!?]*$", text[text.find(span) + len(span):])
        if rest and rest.group(1).lower() in COUNTRIES:  # "..., Germany" after what the model marked
            span = f"{span}, {rest.group(1)}"
        return {"new_address": span}

    async def validate_new_address(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if isinstance(value, str) and value.startswith("{"):
            return {"new_address": value}  # already parsed
        turn = Turn(dispatcher, tracker, domain)
        order = await turn.owned_order(turn.slot("order_id"))
        country = order.shipping_address.country if order else "NL"
        parsed = parse_address(str(value), default_country=country)
        if parsed.address is None:
            dispatcher.utter_message(text=f"I couldn't find the {parsed.missing} in that address. Please write it as "
                                          "street and number, postcode, city, country.")
            return {"new_address": None}
        return {"new_address": json.dumps(parsed.address.to_json())}

    async def extract_new_contact(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        requested = tracker.get_slot("requested_slot")
        if tracker.get_slot("goal") != "update_account" or requested in VERIFYING:
            return {}
        # What the extractors marked, if it is a whole address or number; else what the text holds.
        found = [value for value in entity_values(tracker, "email") + entity_values(tracker, "phone")
                 if classify_contact(value)[0]]
        if not found and classify_contact(tracker.latest_message.get("text") or "")[0]:
            found = [tracker.latest_message.get("text")]
        if found and found[0] != tracker.get_slot("new_contact"):
            return {"new_contact": found[0]}
        if requested == "new_contact" and not found and latest_intent(tracker) in ("inform", "update_account"):
            return {"new_contact": tracker.latest_message.get("text")}
        return {}

    def validate_new_contact(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        field, normalised = classify_contact(str(value))
        if field is None:
            dispatcher.utter_message(response="utter_contact_invalid")
            return {"new_contact": None}
        return {"new_contact": normalised}

