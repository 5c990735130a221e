"""The shop's business rules, in one place: refund eligibility, what can change before shipping, how
long money takes to arrive, when customer service is open. Actions ask these functions; they never decide
such things themselves.

Every figure a message states (a window, a delay, the opening hours, the support address) is a constant here
that the action passes to its domain response as a variable, so no other module and no response repeats it.
The figures match the help-centre articles in data/knowledge/ and the FAQ answers in data/responses/faq.yml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from actions.backends.models import Charge, Order, PaymentRecord, Refund, Return

# Days from delivery within which an order may be returned, and a refund asked for.
REFUND_WINDOW_DAYS = 30
# Business days we take to issue a refund once a return reaches the warehouse (or a refund is requested).
REFUND_ISSUE_BUSINESS_DAYS = 2
# Hours an order waits for its payment before it is cancelled automatically.
PAYMENT_WAIT_HOURS = 24
# Business days a paid order usually takes to leave the warehouse: (fastest, slowest).
DISPATCH_BUSINESS_DAYS = (1, 2)
# Days a bank takes to release the hold of a failed or double payment: (fastest, slowest).
HOLD_RELEASE_DAYS = (3, 7)
WARRANTY_YEARS = 2
UNSHIPPED = ("pending", "paid")
# A return the shopper has a label for that has not reached the warehouse yet.
OPEN_RETURN = ("requested", "in_transit")
# A return the warehouse has received: its refund has started (received) or been issued (refunded).
ARRIVED_RETURN = ("received", "refunded")

# Customer service: where a shopper writes or calls, and when a person answers (the FAQ's opening hours).
SUPPORT_EMAIL = "support@larkspurhome.example"
SUPPORT_PHONE = "+31 20 555 0199"
SUPPORT_HOURS_WEEKDAYS = "08:00-20:00"  # Monday to Friday
SUPPORT_HOURS_SATURDAY = "09:00-17:00"  # closed on Sundays
SUPPORT_TIMEZONE = "CET"

# Business days the shopper's bank or provider takes after we issue a refund: (fastest, slowest).
BANK_DAYS = {
    "card": (3, 5),
    "apple_pay": (3, 5),
    "google_pay": (3, 5),
    "paypal": (0, 1),
    "ideal": (1, 2),
    "bancontact": (1, 2),
    "klarna": (3, 5),
}
METHOD_NAMES = {
    "card": "card",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
    "paypal": "PayPal",
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "klarna": "Klarna",
}


@dataclass(frozen=True)
class Decision:
    """A yes or no with the reason code a response is chosen by, and what the shopper may do instead."""

    allowed: bool
    reason: str
    amount: Decimal = Decimal("0")


def can_cancel(order: Order) -> Decision:
    """Orders can be cancelled, free, until they ship; after that they are returned instead."""
    if order.status in UNSHIPPED:
        return Decision(True, "not_shipped")
    return Decision(False, f"already_{order.status}")


def can_change_address(order: Order) -> Decision:
    """The delivery address can change only while the parcel has not left the warehouse."""
    if order.status in UNSHIPPED:
        return Decision(True, "not_shipped")
    return Decision(False, f"already_{order.status}")


def refundable_amount(payments: PaymentRecord) -> Decimal:
    """Money taken for the order that is not already on its way back (failed refunds do not count)."""
    on_its_way = sum((r.amount for r in payments.refunds if r.status != "failed"), Decimal("0"))
    return max(Decimal("0"), payments.captured - on_its_way)


def refund_eligibility(order: Order, payments: PaymentRecord, today: date, returns: Sequence[Return] = ()) -> Decision:
    """Whether the shopper may have a refund now, by the shop's refund policy (and the help articles).

    A delivered order is refunded after its return arrives, never before: within REFUND_WINDOW_DAYS of delivery
    the answer is "return_first" (start a return; `amount` is what its arrival refunds). A return already on its
    way is "return_requested" or "return_in_transit"; one that arrived is "return_received" (its refund has
    started). A returned order without a return on record, within the window and with money still refundable,
    is "eligible". Unshipped orders are cancelled instead (which refunds in full), shipped ones wait until they
    arrive, and cancelled ones are refunded automatically.
    """
    refundable = refundable_amount(payments)
    if payments.captured <= 0:
        return Decision(False, "nothing_paid")
    if order.status == "cancelled":
        return Decision(False, "cancelled_refunds_automatically")
    if order.status in UNSHIPPED:
        return Decision(False, "not_shipped_cancel_instead")
    if order.status == "shipped":
        return Decision(False, "not_delivered_yet")
    on_its_way = open_return(returns)
    if on_its_way is not None:
        return Decision(False, f"return_{on_its_way.status}")
    if arrived_return(returns) is not None:
        return Decision(False, "return_received")
    if refundable <= 0:
        return Decision(False, "already_refunded")
    delivered = order.shipment.delivered_at.date() if order.shipment and order.shipment.delivered_at else None
    if delivered is None:
        return Decision(False, "not_delivered_yet")
    if today > refund_deadline(delivered):
        return Decision(False, "window_passed")
    if order.status == "delivered":
        return Decision(False, "return_first", refundable)
    return Decision(True, "eligible", refundable)


def open_return(returns: Sequence[Return]) -> Return | None:
    """The newest return that has not reached the warehouse yet, if any."""
    return next((r for r in reversed(returns) if r.status in OPEN_RETURN), None)


def arrived_return(returns: Sequence[Return]) -> Return | None:
    """The newest return the warehouse has received, if any."""
    return next((r for r in reversed(returns) if r.status in ARRIVED_RETURN), None)


def returnable_items(order: Order, returns: Sequence[Return]) -> dict[str, int]:
    """SKU to quantity: what of the order is not already in a return, and so can go back in a new one."""
    left: dict[str, int] = {}
    for item in order.items:
        left[item.sku] = left.get(item.sku, 0) + item.quantity
    for ret in returns:
        for line in ret.items:
            left[line.sku] = left.get(line.sku, 0) - line.quantity
    return {sku: qty for sku, qty in left.items() if qty > 0}


def refund_deadline(delivered: date) -> date:
    """The last day a delivered order may be returned or refunded."""
    return delivered + timedelta(days=REFUND_WINDOW_DAYS)


def bank_days(method: str) -> tuple[int, int]:
    """(fastest, slowest) business days the shopper's bank or provider takes to show an issued refund."""
    return BANK_DAYS.get(method, (3, 5))


def add_business_days(start: date, days: int) -> date:
    """The day `days` business days (Monday to Friday) after `start`."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def expected_arrival(refund: Refund) -> date | None:
    """The latest day an issued refund should show on the shopper's statement."""
    if refund.status != "issued" or refund.issued_at is None:
        return None
    return add_business_days(refund.issued_at.date(), bank_days(refund.method)[1])


@dataclass(frozen=True)
class PaymentFinding:
    """What the payment records of an order show, for a shopper who reports a payment problem."""

    kind: str  # double_charge | failed_payment | failed_then_paid | looks_fine | no_payment
    charges: list[Charge]
    extra: Decimal = Decimal("0")


def diagnose_payment(order: Order, payments: PaymentRecord) -> PaymentFinding:
    """Read the charges: taken twice, failed, failed then retried, or one payment as expected."""
    succeeded = [c for c in payments.charges if c.status == "succeeded"]
    failed = [c for c in payments.charges if c.status == "failed"]
    if payments.captured > order.total and len(succeeded) > 1:
        return PaymentFinding("double_charge", succeeded, payments.captured - order.total)
    if failed and not succeeded:
        return PaymentFinding("failed_payment", failed)
    if failed and succeeded:
        return PaymentFinding("failed_then_paid", failed + succeeded)
    if not payments.charges:
        return PaymentFinding("no_payment", [])
    return PaymentFinding("looks_fine", succeeded)
