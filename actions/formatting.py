"""How money, dates and orders read in the assistant's messages, and the pieces of wording that go inside
them (a domain response an action fills itself, such as "tomorrow" or "on Tue 26 Nov")."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, Union

from actions.backends.models import Charge, Order, Refund
from actions.shop_policy import METHOD_NAMES

SYMBOLS = {"EUR": "€", "GBP": "£"}
# A `{variable}` of a response text, as Rasa reads one (rasa.core.nlg.interpolator).
VARIABLE = re.compile(r"{([^\n{}]+?)}")

log = logging.getLogger("actions.formatting")


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


def phrase(domain: Dict[str, Any], *, response: str, **variables: Any) -> str:
    """The text of a domain response used inside another response, filled with `variables`.

    A message's sentence is a response the action sends (Rasa fills it); the few words that change inside it
    ("a day" or "{fastest}-{slowest} business days", "today" or "on {day}") are responses too, rendered here from the
    domain Rasa sends with every action call, so all wording is edited and translated in the domain alone.
    The first variant is used; a variable without a value is left as written.
    """
    variants = (domain.get("responses") or {}).get(response) or []
    text = variants[0].get("text") if variants else None
    if text is None:
        log.error("the domain has no text response %s", response)
        return ""
    return VARIABLE.sub(lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), text)
