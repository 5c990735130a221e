"""Which order a request is about, when the shopper did not say: pick the only likely one, or offer a list."""

from __future__ import annotations

from typing import Any

from actions import formatting as fmt
from actions.backends.models import Order
from actions.base import ShopAction, Turn, form_ended_by_outage

# For each goal, the orders it can be about, most likely first.
LIKELY_STATUSES = {
    "refund_status": ("returned", "cancelled"),
    "request_refund": ("delivered", "returned"),
    "cancel_order": ("pending", "paid"),
    "change_address": ("pending", "paid"),
    "order_status": ("paid", "shipped", "pending"),
    "payment_issue": ("pending", "paid", "delivered", "shipped"),
    "invoice": ("delivered", "shipped", "paid", "returned"),
}


def likely_orders(orders: list[Order], goal: str | None) -> list[Order]:
    statuses = LIKELY_STATUSES.get(goal or "", ())
    return [o for o in orders if o.status in statuses]


async def pick_order(turn: Turn, customer_id: str, goal: str | None) -> str | None:
    """The one order the request can be about, announced to the shopper; None when it is not clear.

    A failing orders system raises to the caller's `Turn.backend_calls`.
    """
    orders = await turn.call(turn.clients.orders.list_orders, customer_id=customer_id, limit=20)
    candidates = likely_orders(orders, goal)
    if len(candidates) == 1 or len(orders) == 1:
        order = candidates[0] if candidates else orders[0]
        turn.say(
            response="utter_order_found",
            order_id=order.id,
            items=fmt.items(turn.domain, order),
            placed_on=fmt.day(turn.domain, order.placed_at),
        )
        return order.id
    return None


class ActionAskOrderId(ShopAction):
    """Ask which order: the verified shopper's likely orders as buttons, or the number in plain words."""

    action_name = "action_ask_order_id"
    needs_verified_customer = False  # an unverified shopper is asked for the number

    def after_outage(self, turn: Turn) -> list[dict[str, Any]]:
        """The form's question for its `order_id` slot: an outage ends the form, as inside its validation."""
        return form_ended_by_outage(turn)

    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        orders: list[Order] = []
        if turn.customer_id:
            orders = await turn.call(turn.clients.orders.list_orders, customer_id=turn.customer_id, limit=20)
        if not orders:
            turn.say(response="utter_order_number_please")
            return []
        likely = likely_orders(orders, turn.slot("goal"))
        shown = (likely + [o for o in orders if o not in likely])[:5]
        turn.say(
            response="utter_choose_order",
            buttons=[
                {"title": fmt.order_label(turn.domain, o), "payload": f'/inform{{"order_id":"{o.id}"}}'} for o in shown
            ],
        )
        return []
