"""Which order a request is about, when the shopper did not say: pick the only likely one, or offer a list."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import formatting as fmt
from actions.backends import BackendError
from actions.backends.models import Order
from actions.base import Turn

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


def likely_orders(orders: List[Order], goal: Optional[str]) -> List[Order]:
    statuses = LIKELY_STATUSES.get(goal or "", ())
    return [o for o in orders if o.status in statuses]


async def pick_order(turn: Turn, customer_id: str, goal: Optional[str]) -> Optional[str]:
    """The one order the request can be about, announced to the shopper; None when it is not clear."""
    try:
        orders = await turn.call(turn.clients.orders.list_orders, customer_id=customer_id, limit=20)
    except BackendError:
        return None  # the form asks for the number instead; the goal's action reports an outage
    candidates = likely_orders(orders, goal)
    if len(candidates) == 1 or len(orders) == 1:
        order = candidates[0] if candidates else orders[0]
        turn.say(text=f"I've found order {order.id} ({fmt.items(order)}, placed {fmt.day(order.placed_at)}).")
        return order.id
    return None


class ActionAskOrderId(Action):
    """Ask which order: the verified shopper's likely orders as buttons, or the number in plain words."""

    def name(self) -> str:
        return "action_ask_order_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]):
        turn = Turn(dispatcher, tracker, domain)
        orders: List[Order] = []
        if turn.customer_id:
            try:
                orders = await turn.call(turn.clients.orders.list_orders, customer_id=turn.customer_id, limit=20)
            except BackendError:
                orders = []
        if not orders:
            turn.say(text="What's the order number? It's the 5-digit number in your order confirmation email, like 10234.")
            return []
        likely = likely_orders(orders, turn.slot("goal"))
        shown = (likely + [o for o in orders if o not in likely])[:5]
        turn.say(text="Which order is it about? Tap one, or type its number.",
                 buttons=[{"title": fmt.order_label(o), "payload": f'/inform{{"order_id":"{o.id}"}}'} for o in shown])
        return []
