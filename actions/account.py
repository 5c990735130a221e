"""Account: change the email address or phone number on file, after the shopper confirms."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk.events import SlotSet

from actions.backends import Conflict, InvalidRequest
from actions.base import ShopAction, Turn
from actions.contact_details import classify_contact
from actions.orders import propose


class ActionUpdateAccount(ShopAction):
    """Ask before writing a new email address or phone number to the CRM."""

    action_name = "action_update_account"

    async def act(self, turn: Turn) -> List[Dict[str, Any]]:
        field, value = classify_contact(turn.slot("new_contact") or "")
        if field is None:
            turn.say(text="I need a valid email address or phone number to update your account.")
            return [SlotSet("new_contact", None)]
        customer = await turn.call(turn.clients.crm.get_customer, turn.customer_id)
        current = customer.email if field == "email" else customer.phone
        if current.replace(" ", "").lower() == value.replace(" ", "").lower():
            turn.say(text=f"That's already the {label(field)} on your account, so there's nothing to change.")
            return [SlotSet("new_contact", None)]
        return propose(turn, f"I'll change the {label(field)} on your account from {current} to {value}. Is that right?",
                       {"op": "update_contact", "field": field, "value": value})


def label(field: str) -> str:
    return "email address" if field == "email" else "phone number"


async def execute_update_contact(turn: Turn, operation: Dict[str, Any]) -> List[Dict[str, Any]]:
    field, value = operation["field"], operation["value"]
    try:
        await turn.call(turn.clients.crm.update_contact, turn.customer_id,
                        idempotency_key=turn.key("contact", operation), **{field: value})
    except Conflict:
        turn.say(text="That email address belongs to another account, so I can't use it. "
                      "Please give me a different one, or ask for a colleague.")
        return [SlotSet("new_contact", None)]
    except InvalidRequest:
        turn.say(text=f"Our system didn't accept that {label(field)}. Could you check it?")
        return [SlotSet("new_contact", None)]
    turn.say(text=f"Done: your {label(field)} is now {value}.")
    return [SlotSet("new_contact", None)]
