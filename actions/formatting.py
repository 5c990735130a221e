"""How money, dates and orders read in the assistant's messages, and the pieces of wording that go inside
them (a domain response an action fills itself, such as "tomorrow" or "on Tue 26 Nov").

Every word here comes from the domain the action was called with (`phrase`): a date's weekday and month, how
an item list is joined, an order's button title. So the helpers that write words take that domain."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from actions.backends.models import Charge, Order, Refund
from actions.shop_policy import METHOD_NAMES

SYMBOLS = {"EUR": "€", "GBP": "£"}
# The names of a date's weekday (Monday first, as `date.weekday()` counts) and month, in the domain.
WEEKDAYS = (
    "utter_weekday_monday",
    "utter_weekday_tuesday",
    "utter_weekday_wednesday",
    "utter_weekday_thursday",
    "utter_weekday_friday",
    "utter_weekday_saturday",
    "utter_weekday_sunday",
)
MONTHS = (
    "utter_month_january",
    "utter_month_february",
    "utter_month_march",
    "utter_month_april",
    "utter_month_may",
    "utter_month_june",
    "utter_month_july",
    "utter_month_august",
    "utter_month_september",
    "utter_month_october",
    "utter_month_november",
    "utter_month_december",
)
# A `{variable}` of a response text, as Rasa reads one (rasa.core.nlg.interpolator).
VARIABLE = re.compile(r"{([^\n{}]+?)}")

log = logging.getLogger("actions.formatting")


def money(amount: Decimal, currency: str) -> str:
    symbol = SYMBOLS.get(currency)
    value = f"{amount:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


def day(domain: dict[str, Any], value: date | datetime) -> str:
    """'Tue 26 Nov' style, the way a person writes a date in a chat; the names and their order are the domain's."""
    if isinstance(value, datetime):
        value = value.date()
    return phrase(
        domain,
        response="utter_date",
        weekday=phrase(domain, response=WEEKDAYS[value.weekday()]),
        day=value.day,
        month=phrase(domain, response=MONTHS[value.month - 1]),
    )


def method(charge_or_refund: Charge | Refund) -> str:
    detail = getattr(charge_or_refund, "method_detail", None)
    return detail or METHOD_NAMES.get(charge_or_refund.method, charge_or_refund.method)


def items(domain: dict[str, Any], order: Order, limit: int = 2) -> str:
    """What an order holds, in a few words: the first `limit` items, then how many more."""
    names = [
        phrase(domain, response="utter_item_quantity", quantity=i.quantity, name=i.name) if i.quantity > 1 else i.name
        for i in order.items
    ]
    if len(names) > limit:
        return phrase(domain, response="utter_items_and_more", items=", ".join(names[:limit]), more=len(names) - limit)
    if len(names) == 2:
        return phrase(domain, response="utter_items_two", first=names[0], second=names[1])
    return ", ".join(names)


def order_label(domain: dict[str, Any], order: Order) -> str:
    """A short button title for an order: number, date, what is in it."""
    return phrase(
        domain,
        response="utter_order_label",
        order_id=order.id,
        placed_on=day(domain, order.placed_at),
        items=items(domain, order, 1),
    )


def phrase(domain: dict[str, Any], *, response: str, **variables: Any) -> str:
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
