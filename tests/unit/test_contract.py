"""Guards the one v1 contract (contract/v1): every record the demo shop writes parses back into the backend
clients' model with every field and value; a record with a field missing or mistyped is refused with the
clients' error for a backend answering nonsense (`Unavailable`, code "bad_response"), never an exception of
its own; the order of a JSON object's keys does not matter; and the two processes share the contract without
importing each other."""

from __future__ import annotations

import ast
import copy
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from actions.backends import CrmClient, HelpdeskClient, OrdersClient, PaymentsClient, Unavailable
from actions.backends import models as client_models
from actions.backends.http import HttpCore
from actions.backends.settings import SystemSettings
from contract import v1
from demoshop import models as rows
from demoshop import serializers
from demoshop.api.helpdesk import TicketRequest
from demoshop.db import Database
from demoshop.seed import seed_if_empty
from demoshop.validation import AddressIn

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 14, 12, 0)


# --- what the shop writes: every record, from a seeded shop's real rows --------------------------------------


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    db = Database("sqlite://")
    db.create_schema()
    with db.write() as s:
        assert seed_if_empty(s, 7, NOW)
        s.get(rows.Customer, "C1040").address_line2 = "2nd floor"  # the seed has no second address lines
        s.get(rows.Order, "10040").ship_line2 = "c/o reception"
        s.add(
            rows.Verification(
                id="ver_0123456789abcdef",
                customer_id="C1001",
                channel="sms",
                code="123456",
                attempts=1,
                status="pending",
                created_at=NOW,
                expires_at=NOW,
            )
        )
        with_everything = rows.Ticket(
            queue="refunds",
            priority="high",
            status="open",
            subject="Refund failed",
            summary="Card closed.",
            transcript=[
                {"sender": "user", "text": "where is my refund?", "timestamp": "1710417600.5"},
                {"sender": "bot", "text": "Let me check.", "timestamp": None},
            ],
            meta={"order_id": "10006", "intents": ["check_refund_status"], "verified": True, "score": 0.5},
            customer_id="C1003",
            conversation_id="conv-1",
            correlation_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            created_at=NOW,
            updated_at=NOW,
        )
        bare = rows.Ticket(
            queue="general",
            priority="normal",
            status="open",
            subject="Hi",
            summary="A question.",
            transcript=[],
            meta={},
            customer_id=None,
            conversation_id=None,
            created_at=NOW,
            updated_at=NOW,
        )
        erased = rows.Ticket(  # after a customer's erasure (POST /v1/tickets/{id}/erasure)
            queue="account",
            priority="normal",
            status="closed",
            subject="[erased]",
            summary="[erased]",
            transcript=[],
            meta={},
            created_at=NOW,
            updated_at=NOW,
            erased_at=NOW,
        )
        s.add_all([with_everything, bare, erased])
        s.flush()
        s.add(rows.TicketMessage(ticket_id=with_everything.id, author="agent", body="On it.", created_at=NOW))
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def wire(db) -> dict[str, list[dict]]:
    """The JSON the shop answers with, per record, as it arrives at a client (encoded and decoded once)."""
    with db.read() as s:
        customers = s.execute(select(rows.Customer).order_by(rows.Customer.id)).scalars().all()
        orders = s.execute(select(rows.Order).order_by(rows.Order.id)).scalars().all()
        tickets = s.execute(select(rows.Ticket).order_by(rows.Ticket.id)).scalars().all()
        verification = s.get(rows.Verification, "ver_0123456789abcdef")
        cancelled = [o for o in orders if o.status == "cancelled"]
        records = {
            "customer": [serializers.customer(c) for c in customers],
            "customer_list": [serializers.customer_list(customers[:3]), serializers.customer_list([])],
            "order": [serializers.order(o) for o in orders],
            "order_page": [serializers.order_page(orders[:5], total=len(orders), limit=5, offset=0)],
            "cancel_result": [serializers.cancel_result(o, o.refunds) for o in cancelled],
            "invoice": [serializers.invoice("10001", "INV-2026-10001", "a***@example.com")],
            "charge": [serializers.charge(c) for o in orders for c in o.charges],
            "refund": [serializers.refund(r) for o in orders for r in o.refunds],
            "return": [serializers.return_(r) for o in orders for r in o.returns],
            "return_list": [*(serializers.return_list(o.returns) for o in orders[:10]), serializers.return_list([])],
            "payment_record": [
                serializers.payment_record(o, captured_cents=o.total_cents, refunded_cents=0) for o in orders
            ],
            "verification": [serializers.verification(verification, "+31*****99")],
            "verification_result": [
                serializers.verification_result(verification, status="invalid", verified=False, attempts_left=2)
            ],
            "ticket": [serializers.ticket(t) for t in tickets],
            "ticket_list": [serializers.ticket_list(tickets)],
            "ticket_message": [serializers.ticket_message(m) for t in tickets for m in t.messages],
        }
    return {name: json.loads(json.dumps(found)) for name, found in records.items()}


# The client's model of each record, and how the shop leaves keys out when it writes one.
CLIENT_RECORDS: dict[str, type[v1.Record]] = {
    "customer": client_models.Customer,
    "customer_list": client_models.CustomerList,
    "order": client_models.Order,
    "order_page": client_models.OrderPage,
    "cancel_result": client_models.CancelResult,
    "invoice": client_models.Invoice,
    "charge": client_models.Charge,
    "refund": client_models.Refund,
    "return": client_models.Return,
    "return_list": client_models.ReturnList,
    "payment_record": client_models.PaymentRecord,
    "verification": client_models.Verification,
    "verification_result": client_models.VerificationResult,
    "ticket": client_models.Ticket,
    "ticket_list": client_models.TicketList,
    "ticket_message": client_models.TicketMessage,
}
WRITE_OPTIONS = {"ticket_list": {"exclude": {"tickets": {"__all__": {"messages"}}}}}


def non_null_fields(record: v1.Record, seen: dict[type, set[str]]) -> dict[type, set[str]]:
    """Which fields of each record type (nested ones too) hold a value somewhere in `record`."""
    seen[type(record)]  # a record whose fields are all null still counts as seen
    for name in record.__fields__:
        value = getattr(record, name)
        if value is not None:
            seen[type(record)].add(name)
        for inner in value if isinstance(value, list) else [value]:
            if isinstance(inner, v1.Record):
                non_null_fields(inner, seen)
    return seen


# --- round trip ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLIENT_RECORDS))
def test_every_record_the_shop_writes_parses_into_the_clients_model_with_every_field(wire, name):
    assert wire[name], f"the seeded shop wrote no {name}"
    for answer in wire[name]:
        parsed = CLIENT_RECORDS[name].parse_obj(answer)
        # written again, the parsed record is the shop's answer exactly: no field lost, added or changed
        assert parsed.to_wire(**WRITE_OPTIONS.get(name, {})) == answer


def test_the_round_trip_sees_every_field_of_every_record_with_a_value(wire):
    seen: dict[type, set[str]] = defaultdict(set)
    for name, answers in wire.items():
        for answer in answers:
            non_null_fields(CLIENT_RECORDS[name].parse_obj(answer), seen)
    exported = (getattr(v1, name) for name in v1.__all__)
    answered = {t for t in exported if isinstance(t, type) and issubclass(t, v1.Record)} - {v1.Record, v1.NewTicket}
    assert set(seen) == answered  # every record the shop answers with (a NewTicket is only ever sent to it)
    never = {t.__name__: set(t.__fields__) - fields for t, fields in seen.items() if set(t.__fields__) - fields}
    assert never == {}, f"no record the shop wrote had a value in: {never}"


def test_the_shop_and_the_clients_use_the_same_record_classes():
    for name in client_models.__all__:
        assert getattr(client_models, name) is getattr(v1, name)
    assert issubclass(AddressIn, v1.Address) and AddressIn.__fields__.keys() == v1.Address.__fields__.keys()


def test_parsed_records_have_python_types_and_the_attributes_the_actions_use(wire):
    delivered = next(o for o in wire["order"] if o["shipment"] and o["shipment"]["delivered_at"])
    order = client_models.Order.parse_obj(delivered)
    assert isinstance(order.total, Decimal) and str(order.total) == delivered["total"]
    assert order.total == sum(i.total for i in order.items) + order.shipping_cost
    assert isinstance(order.placed_at, datetime) and order.placed_at.tzinfo is None
    assert type(order.shipment.estimated_delivery) is date
    assert order.shipment.delivered_at.date() >= order.placed_at.date()
    assert order.shipping_address.country == delivered["shipping_address"]["country"]
    assert order.shipping_address.one_line().startswith(delivered["shipping_address"]["name"])
    with pytest.raises(TypeError):
        order.status = "cancelled"  # records are immutable


def test_times_with_an_offset_are_read_as_utc_and_written_with_z():
    charge = v1.Charge(
        id="ch_1",
        order_id="1001",
        amount="10.50",
        currency="EUR",
        method="card",
        status="succeeded",
        created_at="2026-03-14T13:30:00+01:00",
    )
    assert charge.created_at == datetime(2026, 3, 14, 12, 30)
    assert charge.to_wire()["created_at"] == "2026-03-14T12:30:00Z" and charge.to_wire()["amount"] == "10.50"


def test_what_the_clients_send_is_what_the_shop_accepts():
    address = client_models.Address(
        line1="Lijnbaan 10", city="Rotterdam", postcode="3012 EL", country="nl", name="Kim de Boer"
    )
    assert AddressIn.parse_obj(address.to_json()).dict() == {**address.dict(), "line2": None, "country": "NL"}
    ticket = client_models.NewTicket(
        queue="payments",
        subject="Charged twice",
        summary="Two charges.",
        customer_id="C1004",
        transcript=[client_models.TranscriptLine(sender="user", text="you charged me twice")],
        metadata={"order_id": "10009"},
    )
    body = ticket.to_json()
    assert "conversation_id" not in body and body["transcript"] == [
        {"sender": "user", "text": "you charged me twice", "timestamp": None}
    ]
    assert TicketRequest.parse_obj(body).dict() == {**body, "conversation_id": None, "correlation_id": None}


def test_a_ticket_may_carry_the_correlation_id_of_its_message_and_the_shop_takes_only_a_valid_one():
    ticket = client_models.NewTicket(queue="general", subject="Person", summary="Asked.", correlation_id="turn-0042ab")
    body = ticket.to_json()
    assert body["correlation_id"] == "turn-0042ab"
    assert TicketRequest.parse_obj(body).correlation_id == "turn-0042ab"
    for invalid in ("short", "has space inside", "x" * 129):
        with pytest.raises(ValidationError):
            TicketRequest.parse_obj({**body, "correlation_id": invalid})
    older = {key: value for key, value in body.items() if key != "correlation_id"}  # a helpdesk that never had it
    assert (
        client_models.Ticket.parse_obj(
            {
                **older,
                "id": 1,
                "status": "open",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            }
        ).correlation_id
        is None
    )


# --- the clients against a system that answers with a given record ----------------------------------------


class _FixedAnswer(BaseHTTPRequestHandler):
    """A stand-in for a retailer's system: answers every request with the JSON in `server.answer`."""

    def do_GET(self):
        body = json.dumps(self.server.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def system():
    """A stand-in system on a free port; set `.answer` before calling a client against `.url`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FixedAnswer)
    server.answer = None
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client(cls, base: str):
    settings = SystemSettings(
        system=cls.system,
        base_url=base,
        api_key="test-key",
        connect_timeout=0.5,
        read_timeout=2.0,
        max_attempts=1,
        backoff_initial=0.01,
        backoff_max=0.05,
        breaker_fail_max=1000,
        breaker_reset_seconds=30.0,
    )
    return cls(HttpCore(settings))


# How each client call reads one record, by the record's name in `wire`.
CALLS: dict[str, Callable[[str], Any]] = {
    "order": lambda base: client(OrdersClient, base).get_order("10001"),
    "customer": lambda base: client(CrmClient, base).get_customer("C1001"),
    "payment_record": lambda base: client(PaymentsClient, base).payments_for_order("10001"),
    "ticket": lambda base: client(HelpdeskClient, base).get_ticket(1),
    "verification_result": lambda base: client(CrmClient, base).check_verification(
        "C1001", "ver_0123456789abcdef", "123456", idempotency_key="k1"
    ),
    "cancel_result": lambda base: client(OrdersClient, base).cancel_order("10001", idempotency_key="k2"),
    "return": lambda base: client(OrdersClient, base).start_return("10003", reason="r", idempotency_key="k3"),
}


def reordered(value: Any) -> Any:
    """The same JSON with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def richest(answers: list[dict]) -> dict:
    """The answer with the most non-null values, so a change to it hits a real value."""
    return max(answers, key=lambda a: len(json.dumps(a)) - json.dumps(a).count("null"))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_reordered_json_object_parses_the_same(system, wire, name):
    answer = richest(wire[name])
    system.answer = answer
    as_sent = CALLS[name](system.url)
    system.answer = reordered(answer)
    assert list(system.answer) == list(reversed(list(answer)))
    assert CALLS[name](system.url) == as_sent == CLIENT_RECORDS[name].parse_obj(answer)


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(answer: dict) -> None:
        *parents, last = path.split(".")
        target = answer
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value

    return change


BROKEN = [
    ("order", "total", KeyError),
    ("order", "items.0.total", 12.5),  # money as a float
    ("order", "items.0.unit_price", "twelve"),
    ("order", "items.0.quantity", "2"),
    ("order", "placed_at", "yesterday"),
    ("order", "shipment.estimated_delivery", "2026-03-14T10:00:00Z"),  # a time where a day belongs
    ("order", "shipping_address", "Keizersgracht 1, Amsterdam"),
    ("order", "customer_id", None),
    ("order", "items", {}),
    ("customer", "address.city", KeyError),
    ("customer", "created_at", 1710417600),
    ("payment_record", "refunds.0.amount", "NaN"),
    ("payment_record", "charges", KeyError),
    ("verification_result", "verified", "false"),
    ("verification_result", "attempts_left", KeyError),
    ("ticket", "id", "7"),
    ("ticket", "messages.0.created_at", None),
    ("cancel_result", "order.status", KeyError),
    ("return", "items.0.quantity", "1"),
    ("return", "received_at", "last week"),
    ("return", "label_url", KeyError),
]


@pytest.mark.parametrize("name, path, value", BROKEN, ids=[f"{n}.{p}={v!r}" for n, p, v in BROKEN])
def test_a_missing_or_mistyped_field_is_the_clients_error_for_nonsense(system, wire, name, path, value):
    answer = copy.deepcopy(richest(wire[name]))
    _set(path, value)(answer)
    system.answer = answer
    with pytest.raises(Unavailable) as refused:
        CALLS[name](system.url)
    assert refused.value.code == "bad_response"
    assert f"{CLIENT_RECORDS[name].__name__}.{path}" in refused.value.message, refused.value.message


@pytest.mark.parametrize("answer", [[], "maintenance", None, 42])
def test_an_answer_that_is_not_a_record_is_the_clients_error_for_nonsense(system, answer):
    system.answer = answer
    with pytest.raises(Unavailable) as refused:
        CALLS["order"](system.url)
    assert refused.value.code == "bad_response"


# --- the two processes share the contract, never each other's code ----------------------------------------


def imported_packages(package: str) -> set[str]:
    """The top-level names every module of `package` imports."""
    found: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_the_shop_and_the_action_server_import_the_contract_and_not_each_other():
    assert "contract" in imported_packages("demoshop") and "actions" not in imported_packages("demoshop")
    assert "contract" in imported_packages("actions") and "demoshop" not in imported_packages("actions")
    assert imported_packages("contract") <= {
        "__future__",
        "collections",
        "contract",
        "datetime",
        "decimal",
        "json",
        "pydantic",
        "typing",
    }
