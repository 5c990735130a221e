"""Guards the shop's business rules in actions/shop_policy.py: what may be cancelled or re-addressed, the
30-day refund window counted from delivery, how much is still refundable (failed refunds do not count),
how many business days a refund takes to arrive, how payment records are diagnosed, and that a delivered order is
refunded only after its return arrives (the shop's return window being the policy's)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from actions import shop_policy
from actions.backends.models import (
    Address,
    Charge,
    Order,
    OrderItem,
    PaymentRecord,
    Refund,
    Return,
    ReturnItem,
    Shipment,
)
from actions.shop_policy import (
    Decision,
    add_business_days,
    bank_days,
    can_cancel,
    can_change_address,
    diagnose_payment,
    expected_arrival,
    refund_deadline,
    refund_eligibility,
    refundable_amount,
)

D = Decimal
DELIVERED = datetime(2024, 11, 1, 14, 30)  # a Friday afternoon
PLACED = datetime(2024, 10, 28, 9, 0)


# --- factories ---------------------------------------------------------------------------------------------


def make_address(country: str = "NL") -> Address:
    return Address(line1="Keizersgracht 123", city="Amsterdam", postcode="1015 CJ", country=country)


def make_shipment(delivered_at=DELIVERED) -> Shipment:
    return Shipment(
        carrier="PostNL",
        tracking_number="PN123",
        tracking_url="https://track.example/PN123",
        shipped_at=PLACED + timedelta(days=1),
        estimated_delivery=date(2024, 11, 1),
        delivered_at=delivered_at,
    )


def make_order(
    status: str = "delivered",
    total: str = "50.00",
    currency: str = "EUR",
    order_id: str = "1001",
    shipment=...,
    delivered_at=DELIVERED,
) -> Order:
    if shipment is ...:
        shipment = make_shipment(delivered_at) if status in ("shipped", "delivered", "returned") else None
    if status == "shipped" and shipment is not None and shipment.delivered_at is not None:
        shipment = make_shipment(None)
    item = OrderItem(sku="SKU-1", name="Linen throw", quantity=1, unit_price=D(total), total=D(total))
    return Order(
        id=order_id,
        customer_id="C1001",
        status=status,
        currency=currency,
        items=[item],
        subtotal=D(total),
        shipping_cost=D("0"),
        total=D(total),
        shipping_address=make_address(),
        shipment=shipment,
        placed_at=PLACED,
        updated_at=PLACED,
    )


def make_charge(
    status: str = "succeeded", amount: str = "50.00", currency: str = "EUR", cid: str = "ch_1", method: str = "card"
) -> Charge:
    return Charge(
        id=cid,
        order_id="1001",
        amount=D(amount),
        currency=currency,
        method=method,
        method_detail=None,
        status=status,
        failure_reason="card declined" if status == "failed" else None,
        created_at=PLACED,
    )


def make_refund(
    amount: str = "50.00",
    status: str = "issued",
    method: str = "card",
    currency: str = "EUR",
    issued_at=datetime(2024, 11, 8, 10, 0),
    rid: str = "re_1",
) -> Refund:
    return Refund(
        id=rid,
        order_id="1001",
        charge_id="ch_1",
        amount=D(amount),
        currency=currency,
        method=method,
        status=status,
        reason="returned",
        failure_reason="card account closed" if status == "failed" else None,
        created_at=datetime(2024, 11, 7, 10, 0),
        issued_at=issued_at if status == "issued" else None,
    )


def make_payments(charges=None, refunds=(), total: str = "50.00", currency: str = "EUR") -> PaymentRecord:
    charges = [make_charge(amount=total, currency=currency)] if charges is None else list(charges)
    captured = sum((c.amount for c in charges if c.status == "succeeded"), D("0"))
    refunded = sum((r.amount for r in refunds if r.status == "issued"), D("0"))
    return PaymentRecord(
        order_id="1001",
        currency=currency,
        order_total=D(total),
        captured=captured,
        refunded=refunded,
        charges=charges,
        refunds=list(refunds),
    )


# --- cancelling and changing the address -------------------------------------------------------------------


@pytest.mark.parametrize("rule", [can_cancel, can_change_address])
@pytest.mark.parametrize("status", ["pending", "paid"])
def test_unshipped_orders_can_be_cancelled_and_readdressed(rule, status):
    assert rule(make_order(status)) == Decision(True, "not_shipped")


@pytest.mark.parametrize("rule", [can_cancel, can_change_address])
@pytest.mark.parametrize("status", ["shipped", "delivered", "returned", "cancelled"])
def test_orders_that_left_the_warehouse_cannot_be_cancelled_or_readdressed(rule, status):
    decision = rule(make_order(status))
    assert decision.allowed is False
    assert decision.reason == f"already_{status}"


# --- refundable amount -------------------------------------------------------------------------------------


def test_nothing_refunded_means_everything_captured_is_refundable():
    assert refundable_amount(make_payments()) == D("50.00")


def test_partial_refund_leaves_the_rest_refundable():
    payments = make_payments(refunds=[make_refund("19.99")])
    assert refundable_amount(payments) == D("30.01")


def test_pending_refunds_count_as_on_their_way():
    payments = make_payments(refunds=[make_refund("20.00", status="pending")])
    assert refundable_amount(payments) == D("30.00")


def test_failed_refunds_do_not_count():
    payments = make_payments(refunds=[make_refund("50.00", status="failed")])
    assert refundable_amount(payments) == D("50.00")


def test_failed_and_issued_refunds_together():
    payments = make_payments(
        refunds=[make_refund("50.00", status="failed", rid="re_1"), make_refund("10.00", status="issued", rid="re_2")]
    )
    assert refundable_amount(payments) == D("40.00")


def test_refund_exactly_equal_to_captured_leaves_nothing():
    assert refundable_amount(make_payments(refunds=[make_refund("50.00")])) == D("0")


def test_refundable_amount_never_goes_negative():
    payments = make_payments(refunds=[make_refund("30.00", rid="re_1"), make_refund("30.00", rid="re_2")])
    assert refundable_amount(payments) == D("0")


def test_nothing_captured_means_nothing_refundable():
    assert refundable_amount(make_payments(charges=[make_charge("failed")])) == D("0")


# --- refund eligibility ------------------------------------------------------------------------------------


def test_refund_deadline_is_30_days_after_delivery():
    assert refund_deadline(date(2024, 11, 1)) == date(2024, 12, 1)
    assert refund_deadline(date(2024, 1, 31)) == date(2024, 3, 1)  # leap year: 29 days in February


@pytest.mark.parametrize(
    "days_after, allowed, reason",
    [
        (0, False, "return_first"),
        (29, False, "return_first"),
        (30, False, "return_first"),
        (31, False, "window_passed"),
        (90, False, "window_passed"),
    ],
)
def test_refund_window_is_30_days_from_delivery(days_after, allowed, reason):
    today = DELIVERED.date() + timedelta(days=days_after)
    decision = refund_eligibility(make_order("delivered"), make_payments(), today)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_window_counts_calendar_days_not_the_delivery_time_of_day():
    late = datetime(2024, 11, 1, 23, 59)
    order = make_order("delivered", delivered_at=late)
    assert refund_eligibility(order, make_payments(), date(2024, 12, 1)).reason == "return_first"
    assert refund_eligibility(order, make_payments(), date(2024, 12, 2)).reason == "window_passed"


def test_a_delivered_order_comes_back_first_and_the_decision_carries_what_its_return_refunds():
    decision = refund_eligibility(make_order("delivered"), make_payments(), date(2024, 11, 10))
    assert decision == Decision(False, "return_first", D("50.00"))


def test_eligible_decision_carries_the_full_refundable_amount():
    decision = refund_eligibility(make_order("returned"), make_payments(), date(2024, 11, 10))
    assert decision == Decision(True, "eligible", D("50.00"))


def test_a_return_after_a_partial_refund_refunds_only_the_rest():
    payments = make_payments(refunds=[make_refund("12.50")])
    decision = refund_eligibility(make_order("delivered"), payments, date(2024, 11, 10))
    assert decision == Decision(False, "return_first", D("37.50"))


def test_returned_orders_within_the_window_are_eligible():
    decision = refund_eligibility(make_order("returned"), make_payments(), date(2024, 11, 20))
    assert decision.allowed is True and decision.reason == "eligible"


def test_failed_refund_does_not_block_a_new_request():
    payments = make_payments(refunds=[make_refund("50.00", status="failed")])
    decision = refund_eligibility(make_order("returned"), payments, date(2024, 11, 10))
    assert decision == Decision(True, "eligible", D("50.00"))


def test_gbp_order_is_eligible_with_its_amount():
    order = make_order("delivered", total="89.95", currency="GBP")
    payments = make_payments(total="89.95", currency="GBP")
    assert refund_eligibility(order, payments, date(2024, 11, 10)) == Decision(False, "return_first", D("89.95"))


@pytest.mark.parametrize(
    "refunds",
    [
        [make_refund("50.00")],
        [make_refund("50.00", status="pending")],
        [make_refund("20.00", rid="re_1"), make_refund("30.00", rid="re_2")],
    ],
)
def test_fully_refunded_orders_are_already_refunded(refunds):
    decision = refund_eligibility(make_order("delivered"), make_payments(refunds=refunds), date(2024, 11, 10))
    assert (decision.allowed, decision.reason) == (False, "already_refunded")


def test_already_refunded_wins_over_window_passed():
    payments = make_payments(refunds=[make_refund("50.00")])
    assert refund_eligibility(make_order("delivered"), payments, date(2025, 6, 1)).reason == "already_refunded"


@pytest.mark.parametrize(
    "status, reason",
    [
        ("pending", "not_shipped_cancel_instead"),
        ("paid", "not_shipped_cancel_instead"),
        ("shipped", "not_delivered_yet"),
        ("cancelled", "cancelled_refunds_automatically"),
    ],
)
def test_orders_not_yet_delivered_or_cancelled_are_not_refunded_on_request(status, reason):
    decision = refund_eligibility(make_order(status), make_payments(), date(2024, 11, 10))
    assert (decision.allowed, decision.reason) == (False, reason)
    assert decision.amount == D("0")


@pytest.mark.parametrize("status", ["delivered", "cancelled", "pending", "shipped"])
def test_nothing_paid_comes_first(status):
    payments = make_payments(charges=[make_charge("failed")])
    assert refund_eligibility(make_order(status), payments, date(2024, 11, 10)).reason == "nothing_paid"


def test_no_charges_at_all_is_nothing_paid():
    payments = make_payments(charges=[])
    assert refund_eligibility(make_order("delivered"), payments, date(2024, 11, 10)).reason == "nothing_paid"


def test_delivered_status_without_delivery_date_waits():
    no_shipment = make_order("delivered", shipment=None)
    undelivered = make_order("delivered", shipment=make_shipment(None))
    for order in (no_shipment, undelivered):
        assert refund_eligibility(order, make_payments(), date(2024, 11, 10)).reason == "not_delivered_yet"


# --- returns: a delivered order is refunded after it is back ----------------------------------------------


def make_return(status: str, items=(("SKU-1", 1),), rid: str = "rt_1", refund_id: str | None = None) -> Return:
    arrived = status in ("received", "refunded")
    return Return(
        id=rid,
        order_id="1001",
        status=status,
        reason="changed my mind",
        items=[ReturnItem(sku=sku, name="Linen throw", quantity=qty) for sku, qty in items],
        label_url=f"https://returns.example/{rid}.pdf",
        refund_id=refund_id,
        created_at=datetime(2024, 11, 3, 9, 0),
        updated_at=datetime(2024, 11, 5, 9, 0),
        shipped_at=datetime(2024, 11, 4, 9, 0) if status != "requested" else None,
        received_at=datetime(2024, 11, 5, 9, 0) if arrived else None,
    )


@pytest.mark.parametrize("status", ["requested", "in_transit"])
def test_a_return_on_its_way_is_reported_instead_of_a_refund_or_a_second_return(status):
    decision = refund_eligibility(make_order("delivered"), make_payments(), date(2024, 11, 10), [make_return(status)])
    assert (decision.allowed, decision.reason) == (False, f"return_{status}")


@pytest.mark.parametrize("status", ["received", "refunded"])
def test_a_return_that_arrived_is_answered_with_its_refund(status):
    payments = make_payments(refunds=[make_refund("50.00", status="pending")])
    returns = [make_return(status, refund_id="re_1")]
    for order in (make_order("delivered"), make_order("returned")):
        decision = refund_eligibility(order, payments, date(2024, 11, 10), returns)
        assert (decision.allowed, decision.reason) == (False, "return_received")


def test_a_return_on_its_way_is_reported_even_after_the_window():
    late = date(2025, 1, 10)
    decision = refund_eligibility(make_order("delivered"), make_payments(), late, [make_return("in_transit")])
    assert decision.reason == "return_in_transit"
    assert refund_eligibility(make_order("delivered"), make_payments(), late).reason == "window_passed"


def test_orders_before_delivery_keep_their_answer_whatever_the_returns():
    for status, reason in (("paid", "not_shipped_cancel_instead"), ("shipped", "not_delivered_yet")):
        decision = refund_eligibility(make_order(status), make_payments(), date(2024, 11, 10), [])
        assert decision.reason == reason


def test_open_and_arrived_returns_are_the_newest_of_their_kind():
    first, second = make_return("refunded", rid="rt_1"), make_return("in_transit", rid="rt_2")
    assert shop_policy.open_return([first, second]) is second
    assert shop_policy.arrived_return([first, second]) is first
    assert shop_policy.open_return([first]) is None and shop_policy.arrived_return([second]) is None


def test_returnable_items_leave_out_what_is_already_in_a_return():
    order = make_order("delivered")
    two = order.copy(
        update={
            "items": [*order.items, OrderItem(sku="SKU-2", name="Mug", quantity=3, unit_price=D("5"), total=D("15"))]
        }
    )
    assert shop_policy.returnable_items(two, []) == {"SKU-1": 1, "SKU-2": 3}
    assert shop_policy.returnable_items(two, [make_return("received", items=(("SKU-2", 2),))]) == {
        "SKU-1": 1,
        "SKU-2": 1,
    }
    assert shop_policy.returnable_items(order, [make_return("requested")]) == {}


def test_the_shops_return_window_is_the_policys():
    from demoshop.api.returns import RETURN_WINDOW_DAYS

    assert RETURN_WINDOW_DAYS == shop_policy.REFUND_WINDOW_DAYS


# --- how long money takes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, expected",
    [
        ("card", (3, 5)),
        ("apple_pay", (3, 5)),
        ("google_pay", (3, 5)),
        ("paypal", (0, 1)),
        ("ideal", (1, 2)),
        ("bancontact", (1, 2)),
        ("klarna", (3, 5)),
        ("bank_transfer_unknown", (3, 5)),
    ],
)
def test_bank_days_per_method(method, expected):
    assert bank_days(method) == expected


@pytest.mark.parametrize(
    "start, days, expected",
    [
        (date(2024, 11, 4), 1, date(2024, 11, 5)),  # Mon + 1 = Tue
        (date(2024, 11, 1), 1, date(2024, 11, 4)),  # Fri + 1 = Mon
        (date(2024, 11, 1), 5, date(2024, 11, 8)),  # Fri + 5 = next Fri
        (date(2024, 11, 2), 1, date(2024, 11, 4)),  # Sat + 1 = Mon
        (date(2024, 11, 3), 1, date(2024, 11, 4)),  # Sun + 1 = Mon
        (date(2024, 11, 6), 3, date(2024, 11, 11)),  # Wed + 3 = Mon
        (date(2024, 11, 4), 10, date(2024, 11, 18)),  # two full weeks
        (date(2024, 11, 2), 0, date(2024, 11, 2)),  # zero days: the same day
    ],
)
def test_add_business_days_skips_weekends(start, days, expected):
    result = add_business_days(start, days)
    assert result == expected
    if days:
        assert result.weekday() < 5


def test_expected_arrival_of_a_card_refund_is_five_business_days_later():
    refund = make_refund(method="card", issued_at=datetime(2024, 11, 8, 16, 0))  # Friday
    assert expected_arrival(refund) == date(2024, 11, 15)


def test_expected_arrival_of_a_paypal_refund_issued_on_friday_is_monday():
    refund = make_refund(method="paypal", issued_at=datetime(2024, 11, 8, 16, 0))
    assert expected_arrival(refund) == date(2024, 11, 11)


def test_expected_arrival_of_an_ideal_refund():
    refund = make_refund(method="ideal", issued_at=datetime(2024, 11, 7, 9, 0))  # Thursday
    assert expected_arrival(refund) == date(2024, 11, 11)


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_refunds_not_yet_issued_have_no_arrival_date(status):
    assert expected_arrival(make_refund(status=status)) is None


def test_issued_refund_without_issue_date_has_no_arrival_date():
    refund = make_refund(status="issued", issued_at=None)
    assert expected_arrival(refund) is None


# --- payment diagnosis -------------------------------------------------------------------------------------


def test_one_successful_charge_looks_fine():
    charge = make_charge()
    finding = diagnose_payment(make_order("paid"), make_payments(charges=[charge]))
    assert finding.kind == "looks_fine"
    assert finding.charges == [charge]
    assert finding.extra == D("0")


def test_same_amount_taken_twice_is_a_double_charge_with_the_extra():
    first, second = make_charge(cid="ch_1"), make_charge(cid="ch_2")
    finding = diagnose_payment(make_order("paid"), make_payments(charges=[first, second]))
    assert finding.kind == "double_charge"
    assert finding.charges == [first, second]
    assert finding.extra == D("50.00")


def test_double_charge_in_gbp():
    charges = [
        make_charge(amount="89.95", currency="GBP", cid="ch_1"),
        make_charge(amount="89.95", currency="GBP", cid="ch_2"),
    ]
    order = make_order("paid", total="89.95", currency="GBP")
    finding = diagnose_payment(order, make_payments(charges=charges, total="89.95", currency="GBP"))
    assert (finding.kind, finding.extra) == ("double_charge", D("89.95"))


def test_a_split_payment_adding_up_to_the_total_is_not_a_double_charge():
    charges = [make_charge(amount="20.00", cid="ch_1"), make_charge(amount="30.00", cid="ch_2")]
    assert diagnose_payment(make_order("paid"), make_payments(charges=charges)).kind == "looks_fine"


def test_double_charge_wins_over_an_earlier_failed_attempt():
    charges = [make_charge("failed", cid="ch_0"), make_charge(cid="ch_1"), make_charge(cid="ch_2")]
    finding = diagnose_payment(make_order("paid"), make_payments(charges=charges))
    assert finding.kind == "double_charge"
    assert [c.id for c in finding.charges] == ["ch_1", "ch_2"]


def test_only_failed_charges_is_a_failed_payment():
    failed = [make_charge("failed", cid="ch_1"), make_charge("failed", cid="ch_2")]
    finding = diagnose_payment(make_order("pending"), make_payments(charges=failed))
    assert finding.kind == "failed_payment"
    assert finding.charges == failed


def test_failed_then_retried_successfully():
    failed, ok = make_charge("failed", cid="ch_1"), make_charge(cid="ch_2")
    finding = diagnose_payment(make_order("paid"), make_payments(charges=[failed, ok]))
    assert finding.kind == "failed_then_paid"
    assert finding.charges == [failed, ok]


def test_no_charges_is_no_payment():
    finding = diagnose_payment(make_order("pending"), make_payments(charges=[]))
    assert (finding.kind, finding.charges) == ("no_payment", [])


# --- which orders a refund question is about ---------------------------------------------------------------


def test_policy_constants_match_the_help_centre():
    assert shop_policy.REFUND_WINDOW_DAYS == 30
