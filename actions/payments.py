"""Payment problems: read the order's charges, say plainly what they show, offer a person with the facts."""

from __future__ import annotations

from typing import Any, Dict, List

from actions import formatting as fmt
from actions.backends.models import Order
from actions.base import OrderAction, Turn, offer_handoff
from actions.shop_policy import diagnose_payment


class ActionPaymentIssue(OrderAction):
    """Explain what the payment records of an order show: a double charge, a failed payment, or all in order."""

    action_name = "action_payment_issue"

    async def act_on(self, turn: Turn, order: Order) -> List[Dict[str, Any]]:
        payments = await turn.call(turn.clients.payments.payments_for_order, order.id)
        finding = diagnose_payment(order, payments)
        total = fmt.money(order.total, order.currency)
        if finding.kind == "double_charge":
            times = ", ".join(f"{fmt.money(c.amount, c.currency)} on {fmt.day(c.created_at)}" for c in finding.charges)
            turn.say(text=f"You're right: I see {len(finding.charges)} payments for order {order.id} ({times}) for an "
                          f"order of {total}, so you paid {fmt.money(finding.extra, order.currency)} too much. "
                          "A colleague from our payments team will refund the extra payment.")
            return offer_handoff(turn, "double_charge")
        if finding.kind == "failed_payment":
            charge = finding.charges[-1]
            reason = f" ({charge.failure_reason})" if charge.failure_reason else ""
            turn.say(text=f"The payment of {total} for order {order.id} by {fmt.method(charge)} failed on "
                          f"{fmt.day(charge.created_at)}{reason}, so we haven't received any money. If your bank shows "
                          "an amount, it's a temporary hold that disappears within 3-7 days. The order waits 24 hours "
                          "for a new payment, then it's cancelled automatically.")
            return offer_handoff(turn, "failed_payment")
        if finding.kind == "failed_then_paid":
            ok = [c for c in finding.charges if c.status == "succeeded"][0]
            turn.say(text=f"Your first payment attempt for order {order.id} failed, and the next one of {total} by "
                          f"{fmt.method(ok)} went through on {fmt.day(ok.created_at)}. You've been charged once; "
                          "the failed attempt may show as a hold for a few days and then disappears.")
            return []
        if finding.kind == "no_payment":
            turn.say(text=f"I don't see any payment for order {order.id} yet, so nothing has been taken for it.")
            return []
        charge = finding.charges[0]
        turn.say(text=f"I see one payment of {fmt.money(charge.amount, charge.currency)} for order {order.id} by "
                      f"{fmt.method(charge)} on {fmt.day(charge.created_at)}, which matches the order total of {total}.")
        turn.say(text="If your statement shows something else, a colleague can look into it with you.")
        return offer_handoff(turn, "payment_query")
