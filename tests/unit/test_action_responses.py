"""Guards that the custom actions' wording lives in the domain and their policy figures in
actions/shop_policy.py: every response an action names exists, gets every `{variable}` it needs and no
stray one; no action writes a message's text or a button's title itself, and the words actions/formatting.py
puts inside a message (a date's names, "and 2 more") come from the domain it is given; no module of actions/
but shop_policy.py writes a policy figure ("30 days", "1-2 business days", the opening hours, the support
address); and the FAQ answers and help articles state shop_policy.py's figures.

The actions are read as source (ast), so a response a rare branch sends is checked as well as a common one.
A response name is read where it is written: a string, either side of `a if c else b`, or the values of a
module-level dict (`REFUSALS[reason]`).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from actions import formatting as fmt
from actions import shop_policy as policy
from actions.backends.models import Address, Order, OrderItem
from actions.correction import ActionCorrectOrder
from tests.support.conversation import DOMAIN, REPO, entity, make_tracker, render, run, variables_in

ACTIONS = REPO / "actions"
# Keywords of rasa-sdk's dispatcher.utter_message that are not variables of the response.
DISPATCHER_KEYWORDS = {"text", "image", "json_message", "template", "response", "attachment", "buttons", "elements"}
# A figure of the shop's policy as a sentence writes it: "30 days", "1-2 business days", "24 hours", "30-day",
# "2-year", an opening time "08:00", or one of the shop's addresses. (The one-time code's "10 minutes" is the
# CRM's rule, not the shop's, so minutes are not matched.)
POLICY_FIGURE = re.compile(
    r"\b\d+(?:\s?-\s?\d+)?[\s-](?:business\s|working\s|calendar\s)?(?:day|hour|week|month|year)s?\b"
    r"|\b\d{1,2}:\d{2}\b"
    r"|@larkspurhome\.",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResponseCall:
    """A call in actions/ that sends (or renders) a domain response: which ones it may name, what it passes."""

    where: str
    names: list[str]
    passed: set[str]
    spreads: bool  # passes `**variables`, which this check cannot read


def module_strings(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level names bound to a string, or to a dict, list or tuple of strings: their strings."""
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            items = value.values if isinstance(value, ast.Dict) else getattr(value, "elts", [value])
            strings = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
            if strings:
                found[node.targets[0].id] = strings
    return found


def names_in(node: ast.AST, constants: dict[str, list[str]]) -> list[str]:
    """The response names an expression can stand for; [] when it is computed at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return names_in(node.body, constants) + names_in(node.orelse, constants)
    if isinstance(node, ast.BoolOp):
        return [name for value in node.values for name in names_in(value, constants)]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return constants.get(node.value.id, [])
    if isinstance(node, ast.Name):
        return constants.get(node.id, [])
    return []


def response_calls() -> list[ResponseCall]:
    """Every call in actions/ with a `response=` keyword whose names can be read from the source."""
    calls = []
    for path in sorted(ACTIONS.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = module_strings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            names = names_in(keywords["response"], constants) if "response" in keywords else []
            if names:
                calls.append(
                    ResponseCall(
                        where=f"{path.relative_to(REPO)}:{node.lineno}",
                        names=names,
                        passed={k for k in keywords if k is not None} - DISPATCHER_KEYWORDS,
                        spreads=None in keywords,
                    )
                )
    return calls


CALLS = response_calls()


def needed(name: str) -> set[str]:
    """The variables of every variant of a domain response, in its text and its buttons."""
    return {
        variable
        for variant in DOMAIN["responses"][name]
        for key in ("text", "buttons")
        for variable in variables_in(variant.get(key))
    }


def test_the_source_check_sees_the_actions_responses():
    """The check reads the calls it should: a miss here would make the tests below pass on nothing."""
    named = {name for call in CALLS for name in call.names}
    assert {
        "utter_order_status_shipped",
        "utter_refund_refused_not_delivered",
        "utter_handoff_email_us",
        "utter_confirm_refund",
        "utter_bank_time_business_days",
        "utter_team_general",
    } <= named
    # One of each module that sends or renders wording, and the names read from module-level dicts and tuples.
    assert {
        "utter_backend_down",
        "utter_system_helpdesk",
        "utter_offer_colleague",
        "utter_order_not_found",
        "utter_code_sent",
        "utter_code_wrong_one_left",
        "utter_address_incomplete",
        "utter_address_part_city",
        "utter_order_found",
        "utter_choose_order",
        "utter_what_to_do_with_order",
        "utter_date",
        "utter_weekday_sunday",
        "utter_month_december",
        "utter_items_and_more",
        "utter_order_label",
    } <= named
    assert len(CALLS) > 80


@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.where)
def test_every_response_an_action_names_exists_and_gets_its_variables(call):
    assert not call.spreads, f"{call.where}: pass the variables by name (not **) so they can be checked"
    for name in call.names:
        assert name in DOMAIN["responses"], f"{call.where}: {name} is in neither domain.yml nor data/responses/"
        missing = needed(name) - call.passed
        assert not missing, f"{call.where}: {name} needs {sorted(missing)}, which the call does not pass"
    stray = call.passed - set().union(*(needed(name) for name in call.names))
    assert not stray, f"{call.where}: {sorted(stray)} passed, but no response of {call.names} uses them"


def written_text(call: ast.Call) -> list[str]:
    """What a call writes to the shopper itself: a literal (or f-string) message text, or a button title."""

    def literal(node: ast.AST) -> bool:
        return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))

    found = [ast.unparse(arg) for arg in call.args if literal(arg)]
    for keyword in call.keywords:
        if keyword.arg == "text" and literal(keyword.value):
            found.append(ast.unparse(keyword.value))
        if keyword.arg == "buttons":
            for button in ast.walk(keyword.value):
                if isinstance(button, ast.Dict):
                    found += [
                        ast.unparse(value)
                        for key, value in zip(button.keys, button.values, strict=True)
                        if isinstance(key, ast.Constant) and key.value == "title" and literal(value)
                    ]
    return found


@pytest.mark.parametrize("path", sorted(ACTIONS.rglob("*.py")), ids=lambda p: str(p.relative_to(ACTIONS)))
def test_no_action_writes_a_message_or_a_button_title_itself(path):
    """A message the shopper reads is a domain response (with variables), so it is edited in one place."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = [
        f"line {node.lineno}: {text}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("say", "utter_message")
        for text in written_text(node)
    ]
    assert found == [], f"make these domain responses: {found}"


def test_the_written_text_check_finds_what_it_is_for():
    """The check above reads text, an f-string and a button title; not a response or an action's payload."""
    call = ast.parse('turn.say(text=f"Order {o}", buttons=[{"title": "Yes", "payload": f"/inform{o}"}])').body[0]
    assert written_text(call.value) == ["f'Order {o}'", "'Yes'"]
    call = ast.parse('turn.say(response="utter_x", buttons=[{"title": label(o), "payload": "/deny"}])').body[0]
    assert written_text(call.value) == []


def translated(**texts: str) -> dict:
    """The project's domain with some responses' text replaced, as a translation of it would have them."""
    domain = copy.deepcopy(DOMAIN)
    for name, text in texts.items():
        assert name in domain["responses"], name
        domain["responses"][name] = [{"text": text}]
    return domain


def order_of(*items: tuple) -> Order:
    lines = [
        OrderItem(
            sku=name[:6].upper(), name=name, quantity=quantity, unit_price=Decimal("10"), total=Decimal("10") * quantity
        )
        for name, quantity in items
    ]
    placed = datetime(2024, 11, 26, 9, 30)
    return Order(
        id="10043",
        customer_id="C1001",
        status="paid",
        currency="EUR",
        items=lines,
        subtotal=Decimal("0"),
        shipping_cost=Decimal("0"),
        total=Decimal("0"),
        shipping_address=Address(line1="Keizersgracht 123", city="Amsterdam", postcode="1015 CJ", country="NL"),
        shipment=None,
        placed_at=placed,
        updated_at=placed,
    )


GERMAN = translated(
    utter_date="{weekday}, {day}. {month}",
    utter_weekday_tuesday="Di",
    utter_month_november="Nov.",
    utter_item_quantity="{quantity} Stück {name}",
    utter_items_two="{first} und {second}",
    utter_items_and_more="{items} und {more} weitere",
    utter_order_label="Bestellung {order_id} vom {placed_on}: {items}",
)


def test_the_words_formatting_puts_in_a_message_come_from_the_domain():
    """A translated domain changes every word of a date, an item list and an order's button title."""
    assert fmt.day(GERMAN, date(2024, 11, 26)) == "Di, 26. Nov."
    assert fmt.items(GERMAN, order_of(("Plaid", 1), ("Tablett", 2))) == "Plaid und 2 Stück Tablett"
    assert fmt.items(GERMAN, order_of(("A", 1), ("B", 1), ("C", 1))) == "A, B und 1 weitere"
    assert (
        fmt.order_label(GERMAN, order_of(("Plaid", 2), ("Tablett", 1)))
        == "Bestellung 10043 vom Di, 26. Nov.: 2 Stück Plaid und 1 weitere"
    )


def test_a_bare_order_numbers_buttons_carry_it_in_their_payloads():
    """utter_what_to_do_with_order's payloads are JSON around a variable: Rasa's interpolator must fill them."""
    text = "it's 10235"
    messages, _ = run(ActionCorrectOrder(), make_tracker(text, entities=[entity("order_id", "10235", text)]))
    shown = render(messages[0])
    assert shown["text"] == "What would you like to do with order 10235?"
    assert [(b["title"], b["payload"]) for b in shown["buttons"]] == [
        ("Where is it?", '/check_order_status{"order_id":"10235"}'),
        ("Where is my refund?", '/check_refund_status{"order_id":"10235"}'),
        ("Cancel it", '/cancel_order{"order_id":"10235"}'),
    ]


def test_no_response_an_action_sends_states_a_figure_another_one_states_too():
    """A figure in two responses goes out of date in one of them: it is a variable from shop_policy.py instead."""
    stated: dict[str, set[str]] = {}
    for name in {name for call in CALLS for name in call.names}:
        for variant in DOMAIN["responses"].get(name, []):
            for figure in POLICY_FIGURE.findall(variant.get("text") or ""):
                stated.setdefault(figure.lower(), set()).add(name)
    assert {figure: names for figure, names in stated.items() if len(names) > 1} == {}


def strings_of(path: Path) -> list[tuple]:
    """(line, text) of every string in a module: literals, the literal parts of f-strings, docstrings."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(ACTIONS.rglob("*.py")) if p.name != "shop_policy.py"],
    ids=lambda p: str(p.relative_to(ACTIONS)),
)
def test_only_shop_policy_writes_a_policy_figure(path):
    found = [
        f"line {line}: {match.group(0)!r}" for line, text in strings_of(path) for match in POLICY_FIGURE.finditer(text)
    ]
    assert found == [], f"take these from actions/shop_policy.py: {found}"


def test_the_policy_figure_pattern_finds_what_it_is_for():
    written = [
        "within 30 days of delivery",
        "ships within 1-2 business days",
        "waits 24 hours",
        "the 30-day window",
        "our 2-year warranty",
        "Mon-Fri 08:00-20:00",
        "email support@larkspurhome.example",
    ]
    assert all(POLICY_FIGURE.search(text) for text in written)
    assert not any(
        POLICY_FIGURE.search(text)
        for text in ["order 10234", "a 6-digit code", "€292.90", "within a few minutes", "valid for 10 minutes"]
    )


def faq(topic: str) -> str:
    return DOMAIN["responses"][f"utter_faq/{topic}"][0]["text"]


def article(name: str) -> str:
    return (REPO / "data" / "knowledge" / f"{name}.md").read_text()


def span(days: tuple) -> str:
    return f"{days[0]}-{days[1]}"


# What the shopper reads elsewhere, against the figures the actions pass: (where, the words that state it).
HOURS_LONG = (
    f"Monday to Friday {policy.SUPPORT_HOURS_WEEKDAYS} and Saturday {policy.SUPPORT_HOURS_SATURDAY} "
    f"{policy.SUPPORT_TIMEZONE}"
)
STATED_ELSEWHERE = [
    (
        "faq refund_policy",
        lambda: faq("refund_policy"),
        f"within {policy.REFUND_ISSUE_BUSINESS_DAYS} business days after your return arrives",
    ),
    ("faq refund_policy", lambda: faq("refund_policy"), f"within {policy.REFUND_WINDOW_DAYS} days of delivery"),
    ("faq refund_policy", lambda: faq("refund_policy"), f"cards take {span(policy.bank_days('card'))} business days"),
    ("faq refund_policy", lambda: faq("refund_policy"), f"PayPal within {policy.bank_days('paypal')[1]} day"),
    ("faq refund_policy", lambda: faq("refund_policy"), f"iDEAL/bank transfer {span(policy.bank_days('ideal'))}"),
    ("faq refund_policy", lambda: faq("refund_policy"), f"Klarna {span(policy.bank_days('klarna'))} days"),
    ("faq return_policy", lambda: faq("return_policy"), f"within {policy.REFUND_WINDOW_DAYS} days of delivery"),
    ("faq cancellation_policy", lambda: faq("cancellation_policy"), f"within {policy.REFUND_WINDOW_DAYS} days"),
    ("faq payment_methods", lambda: faq("payment_methods"), f"pending for {policy.PAYMENT_WAIT_HOURS} hours"),
    ("faq warranty", lambda: faq("warranty"), f"{policy.WARRANTY_YEARS}-year warranty"),
    ("faq warranty", lambda: faq("warranty"), policy.SUPPORT_PHONE),
    ("faq contact", lambda: faq("contact"), HOURS_LONG),
    ("faq contact", lambda: faq("contact"), policy.SUPPORT_EMAIL),
    ("faq contact", lambda: faq("contact"), policy.SUPPORT_PHONE),
    ("faq opening_hours", lambda: faq("opening_hours"), HOURS_LONG),
    ("refunds.md", lambda: article("refunds"), f"within {policy.REFUND_ISSUE_BUSINESS_DAYS} business days after"),
    ("refunds.md", lambda: article("refunds"), f"within {policy.REFUND_WINDOW_DAYS} days of delivery"),
    ("refunds.md", lambda: article("refunds"), f"released automatically within {span(policy.HOLD_RELEASE_DAYS)} days"),
    ("returns.md", lambda: article("returns"), f"{policy.REFUND_WINDOW_DAYS} days from the day your order"),
    ("returns.md", lambda: article("returns"), f"within {policy.REFUND_ISSUE_BUSINESS_DAYS} business days"),
    ("orders.md", lambda: article("orders"), f"stays pending for {policy.PAYMENT_WAIT_HOURS} hours"),
    ("payments.md", lambda: article("payments"), f"pending** for {policy.PAYMENT_WAIT_HOURS} hours"),
    ("payments.md", lambda: article("payments"), f"released within {span(policy.HOLD_RELEASE_DAYS)} days"),
    ("warranty-and-damage.md", lambda: article("warranty-and-damage"), f"{policy.WARRANTY_YEARS}-year warranty"),
    ("contact.md", lambda: article("contact"), f"| Monday to Friday | {policy.SUPPORT_HOURS_WEEKDAYS} |"),
    ("contact.md", lambda: article("contact"), f"| Saturday | {policy.SUPPORT_HOURS_SATURDAY} |"),
    ("contact.md", lambda: article("contact"), policy.SUPPORT_EMAIL),
    ("contact.md", lambda: article("contact"), policy.SUPPORT_PHONE),
]


@pytest.mark.parametrize("where,read,words", STATED_ELSEWHERE, ids=[f"{w}: {s}" for w, _, s in STATED_ELSEWHERE])
def test_the_faq_and_the_help_articles_state_the_figures_of_shop_policy(where, read, words):
    assert words in read(), f"{where} does not say {words!r}: it and actions/shop_policy.py disagree"
