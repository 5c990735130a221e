"""Guards actions/formatting: how money (€/£ symbols, thousands separators, two decimals), dates
("Tue 26 Nov"), payment methods, item lists and order button labels read in the assistant's messages, with the
project's domain (the words come from it)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from actions.backends.models import Address, Charge, Order, OrderItem, Refund
from actions.formatting import day, items, method, money, order_label
from tests.support.conversation import DOMAIN

D = Decimal


def make_item(name: str, quantity: int = 1, price: str = "10.00") -> OrderItem:
    return OrderItem(sku=name.upper()[:6], name=name, quantity=quantity, unit_price=D(price), total=D(price) * quantity)


def make_order(
    *item_list: OrderItem, order_id: str = "1001", placed_at=datetime(2024, 11, 26, 9, 30), currency: str = "EUR"
) -> Order:
    total = sum((i.total for i in item_list), D("0"))
    return Order(
        id=order_id,
        customer_id="C1001",
        status="paid",
        currency=currency,
        items=list(item_list),
        subtotal=total,
        shipping_cost=D("0"),
        total=total,
        shipping_address=Address(line1="Keizersgracht 123", city="Amsterdam", postcode="1015 CJ", country="NL"),
        shipment=None,
        placed_at=placed_at,
        updated_at=placed_at,
    )


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("49.95", "EUR", "€49.95"),
        ("1234.5", "EUR", "€1,234.50"),
        ("1234567.891", "GBP", "£1,234,567.89"),
        ("89.95", "GBP", "£89.95"),
        ("0", "EUR", "€0.00"),
        ("12", "USD", "12.00 USD"),
        ("1000", "SEK", "1,000.00 SEK"),
        ("999.999", "EUR", "€1,000.00"),
    ],
)
def test_money(amount, currency, expected):
    assert money(D(amount), currency) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (date(2024, 11, 26), "Tue 26 Nov"),
        (date(2024, 12, 1), "Sun 1 Dec"),  # no leading zero
        (datetime(2025, 1, 5, 23, 59), "Sun 5 Jan"),
        (date(2024, 2, 29), "Thu 29 Feb"),
    ],
)
def test_day(value, expected):
    assert day(DOMAIN, value) == expected


def make_charge(method_name: str, detail=None) -> Charge:
    return Charge(
        id="ch_1",
        order_id="1001",
        amount=D("10"),
        currency="EUR",
        method=method_name,
        method_detail=detail,
        status="succeeded",
        failure_reason=None,
        created_at=datetime(2024, 11, 1),
    )


def make_refund(method_name: str) -> Refund:
    return Refund(
        id="re_1",
        order_id="1001",
        charge_id="ch_1",
        amount=D("10"),
        currency="EUR",
        method=method_name,
        status="issued",
        reason="returned",
        failure_reason=None,
        created_at=datetime(2024, 11, 1),
        issued_at=datetime(2024, 11, 2),
    )


@pytest.mark.parametrize(
    "record, expected",
    [
        (make_charge("card", "Visa •••• 4242"), "Visa •••• 4242"),
        (make_charge("paypal"), "PayPal"),
        (make_charge("ideal"), "iDEAL"),
        (make_charge("sofort"), "sofort"),
        (make_refund("apple_pay"), "Apple Pay"),
        (make_refund("card"), "card"),
    ],
)
def test_method(record, expected):
    assert method(record) == expected


@pytest.mark.parametrize(
    "names, expected",
    [
        ([("Linen throw", 1)], "Linen throw"),
        ([("Linen throw", 3)], "3× Linen throw"),
        ([("Linen throw", 1), ("Oak tray", 2)], "Linen throw and 2× Oak tray"),
        ([("A", 1), ("B", 1), ("C", 1)], "A, B and 1 more"),
        ([("A", 1), ("B", 1), ("C", 1), ("D", 1), ("E", 1)], "A, B and 3 more"),
        ([], ""),
    ],
)
def test_items_default_limit(names, expected):
    assert items(DOMAIN, make_order(*(make_item(n, q) for n, q in names))) == expected


def test_items_with_a_higher_limit_lists_all():
    order = make_order(make_item("A"), make_item("B"), make_item("C"))
    assert items(DOMAIN, order, limit=3) == "A, B, C"


def test_items_with_limit_one():
    order = make_order(make_item("A", 2), make_item("B"))
    assert items(DOMAIN, order, limit=1) == "2× A and 1 more"


def test_order_label_single_item():
    order = make_order(make_item("Linen throw"), order_id="1042")
    assert order_label(DOMAIN, order) == "1042 · Tue 26 Nov · Linen throw"


def test_order_label_several_items_shows_the_first():
    order = make_order(
        make_item("Linen throw", 2),
        make_item("Oak tray"),
        make_item("Mug"),
        order_id="1043",
        placed_at=datetime(2024, 12, 1, 8, 0),
        currency="GBP",
    )
    assert order_label(DOMAIN, order) == "1043 · Sun 1 Dec · 2× Linen throw and 2 more"
