"""Account: change the email address or phone number on file, after the shopper confirms."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet

from actions import formatting as fmt
from actions.backends import Conflict, InvalidRequest
from actions.base import ShopAction, Turn
from actions.contact_details import classify_contact
from actions.orders import propose

# How each contact detail is named in a message ("the phone number on your account").
FIELD_NAMES = {"email": "utter_contact_field_email", "phone": "utter_contact_field_phone"}


class ActionUpdateAccount(ShopAction):
    """Ask before writing a new email address or phone number to the CRM."""

    action_name = "action_update_account"

    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        field, value = classify_contact(turn.slot("new_contact") or "")
        if field is None or value is None:  # classify_contact gives both or neither
            turn.say(response="utter_contact_needed")
            return [SlotSet("new_contact", None)]
        customer = await turn.call(turn.clients.crm.get_customer, turn.customer_id)
        current = customer.email if field == "email" else customer.phone
        if current.replace(" ", "").lower() == value.replace(" ", "").lower():
            turn.say(response="utter_contact_unchanged", field=label(turn, field))
            return [SlotSet("new_contact", None)]
        return propose(
            turn,
            {"op": "update_contact", "field": field, "value": value},
            response="utter_confirm_contact_change",
            field=label(turn, field),
            current=current,
            value=value,
        )


def label(turn: Turn, field: str) -> str:
    """The shopper's name for a contact detail: "email address" or "phone number"."""
    return fmt.phrase(turn.domain, response=FIELD_NAMES[field])


async def execute_update_contact(turn: Turn, operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Write the contact detail the shopper said yes to, or say why the CRM refused it."""
    field, value = operation["field"], operation["value"]
    try:
        await turn.call(
            turn.clients.crm.update_contact,
            turn.customer_id,
            idempotency_key=turn.key("contact", operation),
            **{field: value},
        )
    except Conflict:
        turn.say(response="utter_contact_email_taken")
        return [SlotSet("new_contact", None)]
    except InvalidRequest:
        turn.say(response="utter_contact_rejected", field=label(turn, field))
        return [SlotSet("new_contact", None)]
    turn.say(response="utter_contact_changed", field=label(turn, field), value=value)
    return [SlotSet("new_contact", None)]
