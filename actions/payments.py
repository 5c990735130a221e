"""Payment problems: read the order's charges, say plainly what they show, offer a person with the facts."""

from __future__ import annotations

from typing import Any

from actions import formatting as fmt
from actions.backends.models import Order
from actions.base import OrderAction, Turn, offer_handoff
from actions.shop_policy import HOLD_RELEASE_DAYS, PAYMENT_WAIT_HOURS, diagnose_payment


class ActionPaymentIssue(OrderAction):
    """Explain what the payment records of an order show: a double charge, a failed payment, or all in order."""

    action_name = "action_payment_issue"

    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        payments = await turn.call(turn.clients.payments.payments_for_order, order.id)
        finding = diagnose_payment(order, payments)
        total = fmt.money(order.total, order.currency)
        if finding.kind == "double_charge":
            charges = ", ".join(
                fmt.phrase(
                    turn.domain,
                    response="utter_charge_on_day",
                    amount=fmt.money(c.amount, c.currency),
                    day=fmt.day(turn.domain, c.created_at),
                )
                for c in finding.charges
            )
            turn.say(
                response="utter_payment_double_charge",
                count=len(finding.charges),
                order_id=order.id,
                charges=charges,
                total=total,
                extra=fmt.money(finding.extra, order.currency),
            )
            return offer_handoff(turn, "double_charge")
        if finding.kind == "failed_payment":
            charge = finding.charges[-1]
            turn.say(
                response="utter_payment_failed_because" if charge.failure_reason else "utter_payment_failed",
                total=total,
                order_id=order.id,
                method=fmt.method(charge),
                failed_on=fmt.day(turn.domain, charge.created_at),
                reason=charge.failure_reason or "",
                hold_fastest=HOLD_RELEASE_DAYS[0],
                hold_slowest=HOLD_RELEASE_DAYS[1],
                payment_wait_hours=PAYMENT_WAIT_HOURS,
            )
            return offer_handoff(turn, "failed_payment")
        if finding.kind == "failed_then_paid":
            ok = next(c for c in finding.charges if c.status == "succeeded")
            turn.say(
                response="utter_payment_failed_then_paid",
                order_id=order.id,
                total=total,
                method=fmt.method(ok),
                paid_on=fmt.day(turn.domain, ok.created_at),
            )
            return []
        if finding.kind == "no_payment":
            turn.say(response="utter_payment_none", order_id=order.id)
            return []
        charge = finding.charges[0]
        turn.say(
            response="utter_payment_as_expected",
            amount=fmt.money(charge.amount, charge.currency),
            order_id=order.id,
            method=fmt.method(charge),
            paid_on=fmt.day(turn.domain, charge.created_at),
            total=total,
        )
        turn.say(response="utter_payment_can_look_into_it")
        return offer_handoff(turn, "payment_query")
