"""The service form: collects what a request needs, in order: who the shopper is (unless a signed channel
token already says so), which order, and the new address or contact detail. Which slots it needs follows
the goal, so switching topic mid-way keeps what the shopper already said. Who the shopper is, is proven by
`actions/identity.py`; this module decides what each answer does to the form's slots.

A retailer system that fails mid-form is answered by `Turn.backend_calls`, the same as in every action: the slot
being checked stays empty, what was settled before stays, and the form and the turn end with a person offered.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import customer_token, identity, verification_age
from actions import formatting as fmt
from actions.addresses import COUNTRIES, parse_address
from actions.backends.request_context import request_id
from actions.base import Turn, form_ended_by_outage
from actions.contact_details import classify_contact, find_email, looks_like_partial_email
from actions.order_choice import pick_order

NEEDS_ORDER = {
    "order_status",
    "refund_status",
    "request_refund",
    "cancel_order",
    "change_address",
    "payment_issue",
    "invoice",
}
VERIFYING = ("login_email", "verification_code")
# How each part an address can lack (`ParsedAddress.missing`) is named to the shopper.
ADDRESS_PARTS = {
    "street": "utter_address_part_street",
    "postcode": "utter_address_part_postcode",
    "city": "utter_address_part_city",
}
FORM_ACTION = "validate_service_form"
# The Turn of the form's run in progress, shared by its extract and validate methods, so that an outage told
# while checking one slot ends the whole form.
_running: ContextVar[Turn | None] = ContextVar("service_form_turn", default=None)
REFERS_BACK = re.compile(r"\b(it|its|it's|that|this|same|the order|that one|this one)\b", re.I)


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    """Distinct values of one entity in the latest message ("#10234" counts as 10234)."""
    seen: list[str] = []
    for e in tracker.latest_message.get("entities") or []:
        value = str(e.get("value", "")).strip()
        if entity == "order_id":
            value = value.lstrip("#")
        if e.get("entity") == entity and value and value not in seen:
            seen.append(value)
    return seen


def entity_span(tracker: Tracker, entity: str) -> str | None:
    """The message text from the first to the last piece of an entity the model split ("street, postcode city")."""
    pieces = [
        e
        for e in tracker.latest_message.get("entities") or []
        if e.get("entity") == entity and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    ]
    if not pieces:
        return None
    text = tracker.latest_message.get("text") or ""
    return text[min(e["start"] for e in pieces) : max(e["end"] for e in pieces)].strip() or None


def order_ids(tracker: Tracker) -> list[str]:
    """Order numbers in the latest message, leaving out digits inside an address (a postcode such as 10115)."""
    entities = tracker.latest_message.get("entities") or []
    addresses = [
        (e["start"], e["end"]) for e in entities if e.get("entity") == "address" and isinstance(e.get("start"), int)
    ]
    if tracker.get_slot("requested_slot") == "new_address":
        return []
    found: list[str] = []
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


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def running_turn(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Turn:
    """The Turn of the form's current run (a new one outside a run)."""
    return _running.get() or Turn(dispatcher, tracker, domain, action=FORM_ACTION)


class ValidateServiceForm(FormValidationAction):
    """Dynamic slots, extraction and validation of `service_form`."""

    def name(self) -> str:
        return FORM_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        events: list[dict[str, Any]] = []
        metadata = tracker.latest_message.get("metadata") or {}
        vouched = customer_token.verify(metadata.get(customer_token.METADATA_KEY))
        if vouched and tracker.get_slot("customer_id") != vouched:
            events.append(SlotSet("customer_id", vouched))
        if vouched:  # the channel vouches with this very message: the verification is as recent as its token
            events.append(verification_age.verified_now())
            tracker.add_slots(events)  # the SDK's way to let the checks below see an event before it is returned
        turn = Turn(dispatcher, tracker, domain, action=FORM_ACTION)
        running = _running.set(turn)
        try:
            with request_id(f"{turn.conversation}-{len(tracker.events)}"):
                validated: list[dict[str, Any]] = []
                async with turn.backend_calls():  # the methods guard their own calls; this is the last line
                    validated = await super().run(dispatcher, tracker, domain)
                if turn.outage is not None:
                    return events + validated + form_ended_by_outage(turn)
                return events + validated
        finally:
            _running.reset(running)

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        goal = tracker.get_slot("goal")
        slots = ["goal"]
        if not tracker.get_slot("customer_id"):
            if identity.has_failed(tracker.get_slot("verification")):
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

    def validate_goal(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        """A new goal mid-form switches topic; but an answer to "what's your email?" that the model
        reads as "update my account" must not."""
        previous = previous_value(tracker, "goal")
        answering = tracker.get_slot("requested_slot") in VERIFYING and (
            entity_values(tracker, "email")
            or entity_values(tracker, "verification_code")
            or find_email(tracker.latest_message.get("text") or "")
        )
        if previous and previous != value and answering:
            return {"goal": previous}
        return {"goal": value}

    # --- identity --------------------------------------------------------------------------------

    async def extract_login_email(self, dispatcher, tracker, domain) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "login_email":
            return {}
        text = tracker.latest_message.get("text") or ""
        # The whole address as typed first: an extractor may keep only the part it knows ("a@example.com" of
        # "emma.garcía@example.com").
        email = find_email(text) or next(iter(entity_values(tracker, "email")), None)
        if email:
            return {"login_email": email}
        return {"login_email": text} if latest_intent(tracker) == "inform" or "@" in text else {}

    async def validate_login_email(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        email = find_email(str(value))
        if not email:
            dispatcher.utter_message(
                response="utter_email_incomplete" if looks_like_partial_email(str(value)) else "utter_email_invalid"
            )
            return {"login_email": None}
        turn = running_turn(dispatcher, tracker, domain)
        async with turn.backend_calls():
            verification = await identity.start_check(turn, email)
            if identity.refused_for_now(verification):  # too many codes: the email is asked again after the wait
                return {"login_email": None, "verification": verification}
            return {"login_email": email, "verification": verification}
        return {"login_email": None}  # asked again when the shopper tries later

    async def extract_verification_code(self, dispatcher, tracker, domain) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "verification_code":
            return {}
        text = tracker.latest_message.get("text") or ""
        code = next(iter(entity_values(tracker, "verification_code")), None)
        found = re.search(r"(?<!\d)(\d[\d ]{4,8}\d)(?!\d)", text)
        if code:
            return {"verification_code": code}
        if found:
            return {"verification_code": found.group(1)}
        return {"verification_code": text} if latest_intent(tracker) == "inform" else {}

    async def validate_verification_code(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        code = re.sub(r"\D", "", str(value))
        if len(code) != 6:
            dispatcher.utter_message(response="utter_code_six_digits")
            return {"verification_code": None}
        turn = running_turn(dispatcher, tracker, domain)
        async with turn.backend_calls():
            check = await identity.check_code(turn, tracker.get_slot("verification") or {}, code)
            if check.customer_id is None:
                return {"verification_code": None, "verification": check.state}
            return await self._verified(turn, check)
        return {"verification_code": None}  # the check stays as it was, so the shopper can type a code later

    async def _verified(self, turn: Turn, check: identity.CodeCheck) -> dict[str, Any]:
        """The shopper is verified; the order they named is checked, or the only likely one picked.

        The identity holds even if the orders system then fails: only the order is left open.
        """
        customer_id = check.customer_id
        assert customer_id is not None  # called only once the code matched
        slots: dict[str, Any] = {
            "verification_code": "verified",
            "customer_id": customer_id,
            "verification": check.state,
            verification_age.SLOT: verification_age.verified_now()["value"],
        }
        order_id = turn.slot("order_id")
        async with turn.backend_calls():
            if order_id:
                if await turn.owned_order(order_id, customer_id) is None:
                    turn.say(response="utter_order_not_found_after_verifying", order_id=order_id)
                    slots["order_id"] = None
            elif turn.slot("goal") in NEEDS_ORDER:
                picked = await pick_order(turn, customer_id, turn.slot("goal"))
                if picked:
                    slots["order_id"] = picked
        return slots

    # --- the order -------------------------------------------------------------------------------

    async def extract_order_id(self, dispatcher, tracker, domain) -> dict[str, Any]:
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
            turn = running_turn(dispatcher, tracker, domain)
            async with turn.backend_calls():
                picked = await pick_order(turn, customer_id, tracker.get_slot("goal"))
                if picked:
                    return {"order_id": picked}
        return {"order_id": None} if cleared else {}

    async def validate_order_id(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if value is None:
            return {"order_id": None}
        order_id = str(value).strip().lstrip("#")
        if not re.fullmatch(r"\d{5}", order_id):
            dispatcher.utter_message(response="utter_order_number_invalid")
            return {"order_id": None}
        turn = running_turn(dispatcher, tracker, domain)
        async with turn.backend_calls():
            if turn.customer_id and await turn.owned_order(order_id, turn.customer_id) is None:
                dispatcher.utter_message(response="utter_order_not_on_account", order_id=order_id)
                return {"order_id": None}
            return {"order_id": order_id}
        return {"order_id": None}

    # --- what changes ----------------------------------------------------------------------------

    async def extract_new_address(self, dispatcher, tracker, domain) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if tracker.get_slot("goal") != "change_address" or requested in VERIFYING:
            return {}
        if requested == "new_address" and latest_intent(tracker) in (
            "inform",
            "change_shipping_address",
            "nlu_fallback",
        ):
            return {"new_address": tracker.latest_message.get("text")}  # asked for it: the whole answer is the address
        span = entity_span(tracker, "address")
        if not span:
            return {}
        text = tracker.latest_message.get("text") or ""
        rest = re.match(r"\s*,?\s*([A-Za-zÀ-ÿ ]+?)\s*[.!?]*$", text[text.find(span) + len(span) :])
        if rest and rest.group(1).lower() in COUNTRIES:  # "..., Germany" after what the model marked
            span = f"{span}, {rest.group(1)}"
        return {"new_address": span}

    async def validate_new_address(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if isinstance(value, str) and value.startswith("{"):
            return {"new_address": value}  # already parsed
        turn = running_turn(dispatcher, tracker, domain)
        async with turn.backend_calls() as orders:
            order = await turn.owned_order(turn.slot("order_id"), turn.customer_id)
        if orders.failed:
            return {"new_address": None}
        country = order.shipping_address.country if order else "NL"
        parsed = parse_address(str(value), default_country=country)
        if parsed.address is None:
            assert parsed.missing is not None  # parse_address names the part it lacks whenever it has no address
            dispatcher.utter_message(
                response="utter_address_incomplete", missing=fmt.phrase(domain, response=ADDRESS_PARTS[parsed.missing])
            )
            return {"new_address": None}
        return {"new_address": json.dumps(parsed.address.to_json())}

    async def extract_new_contact(self, dispatcher, tracker, domain) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if tracker.get_slot("goal") != "update_account" or requested in VERIFYING:
            return {}
        # What the extractors marked, if it is a whole address or number; else what the text holds.
        found = [
            value
            for value in entity_values(tracker, "email") + entity_values(tracker, "phone")
            if classify_contact(value)[0]
        ]
        if not found and classify_contact(tracker.latest_message.get("text") or "")[0]:
            found = [tracker.latest_message.get("text")]
        if found and found[0] != tracker.get_slot("new_contact"):
            return {"new_contact": found[0]}
        if requested == "new_contact" and not found and latest_intent(tracker) in ("inform", "update_account"):
            return {"new_contact": tracker.latest_message.get("text")}
        return {}

    def validate_new_contact(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        field, normalised = classify_contact(str(value))
        if field is None:
            dispatcher.utter_message(response="utter_contact_invalid")
            return {"new_contact": None}
        return {"new_contact": normalised}
