"""How money, dates and orders read in the assistant's messages."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Union

from actions.backends.models import Charge, Order, Refund
from actions.shop_policy import METHOD_NAMES

SYMBOLS = {"EUR": "€", "GBP": "£"}


def money(amount: Decimal, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    value = f"{amount:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


def day(value: Union[date, datetime]) -> str:
    """'Tue 26 Nov' style, the way a person writes a date in a chat."""
    if isinstance(value, datetime):
        value = value.date()
    return f"{value:%a} {value.day} {value:%b}"


def method(charge_or_refund: Union[Charge, Refund]) -> str:
    detail = getattr(charge_or_refund, "method_detail", None)
    return detail or METHOD_NAMES.get(charge_or_refund.method, charge_or_refund.method)


def items(order: Order, limit: int = 2) -> str:
    names = [f"{i.quantity}× {i.name}" if i.quantity > 1 else i.name for i in order.items]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return " and ".join(names) if len(names) <= 2 else ", ".join(names)


def order_label(order: Order) -> str:
    """A short button title for an order: number, date, what is in it."""
    return f"{order.id} · {day(order.placed_at)} · {items(order, 1)}"
