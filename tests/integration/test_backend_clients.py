"""The typed clients and their resilient HTTP core, against the real demo shop and its failure modes."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY

from actions.backends import (
    CircuitOpen,
    Conflict,
    CrmClient,
    HelpdeskClient,
    InvalidRequest,
    NotFound,
    OrdersClient,
    PaymentsClient,
    Unauthorized,
    Unavailable,
)
from actions.backends.http import HttpCore
from actions.backends.models import Address, NewTicket, TranscriptLine
from actions.backends.request_context import request_id
from actions.backends.settings import SystemSettings
from tests.support.processes import free_port, start_demoshop


def settings(system: str, base: str, **overrides) -> SystemSettings:
    values = dict(
        system=system,
        base_url=base,
        api_key="test-key",
        connect_timeout=0.5,
        read_timeout=2.0,
        max_attempts=3,
        backoff_initial=0.01,
        backoff_max=0.05,
        breaker_fail_max=5,
        breaker_reset_seconds=30.0,
    )
    values.update(overrides)
    return SystemSettings(**values)


def client(cls, base: str, **overrides):
    return cls(HttpCore(settings(cls.system, base, **overrides)))


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="module")
def shop_url(tmp_path_factory):
    service, base = start_demoshop(tmp_path_factory.mktemp("clients"))
    yield base
    service.stop()


@pytest.fixture(scope="module")
def orders(shop_url):
    return client(OrdersClient, shop_url)


@pytest.fixture(scope="module")
def payments(shop_url):
    return client(PaymentsClient, shop_url)


# --- typed answers -----------------------------------------------------------------------------------


def test_orders_come_back_as_typed_records(orders):
    order = orders.get_order("10002")
    assert order.status == "shipped" and order.customer_id == "C1001"
    assert isinstance(order.total, Decimal) and order.total == sum(i.total for i in order.items) + order.shipping_cost
    assert order.shipment.tracking_number and order.shipment.estimated_delivery
    mine = orders.list_orders(customer_id="C1001")
    assert "10002" in [o.id for o in mine] and all(o.customer_id == "C1001" for o in mine)


def test_payments_and_customers_come_back_typed(shop_url, payments):
    record = payments.payments_for_order("10001")
    assert record.refunds[0].status == "issued" and record.refunds[0].issued_at is not None
    assert record.refunded == record.refunds[0].amount
    crm = client(CrmClient, shop_url)
    customer = crm.get_customer("C1001")
    assert crm.find_by_email(customer.email.upper()).id == "C1001"
    assert crm.find_by_email("nobody@example.com") is None


def test_business_errors_are_typed_and_do_not_open_the_breaker(orders):
    for _ in range(8):  # more than fail_max
        with pytest.raises(NotFound):
            orders.get_order("99999")
    with pytest.raises(Conflict) as conflict:
        orders.cancel_order("10002", idempotency_key=uuid.uuid4().hex)
    assert conflict.value.code == "order_not_cancellable"
    with pytest.raises(InvalidRequest):
        abroad = Address(line1="x", city="y", postcode="z", country="US")
        orders.change_shipping_address("10007", abroad, idempotency_key=uuid.uuid4().hex)
    assert orders.core.breaker.current_state == "closed"
    assert orders.get_order("10001").id == "10001"


def test_a_wrong_key_is_unauthorized(shop_url):
    bad = client(OrdersClient, shop_url, api_key="wrong")
    with pytest.raises(Unauthorized):
        bad.get_order("10001")


def test_ids_cannot_escape_their_path_segment(orders):
    with pytest.raises(NotFound):
        orders.get_order("../customers/C1001")


# --- idempotent mutations ------------------------------------------------------------------------


def test_a_refund_repeated_with_its_key_is_created_once(payments):
    key = uuid.uuid4().hex
    before = len(payments.payments_for_order("10011").refunds)
    first = payments.create_refund("10011", amount=Decimal("4.00"), reason="goodwill", idempotency_key=key)
    second = payments.create_refund("10011", amount=Decimal("4.00"), reason="goodwill", idempotency_key=key)
    assert first.id == second.id and first.status == "pending" and first.amount == Decimal("4.00")
    assert len(payments.payments_for_order("10011").refunds) == before + 1


def test_cancel_and_readdress_before_shipping(orders):
    unshipped = [o for o in orders.list_orders(status="pending", limit=50) if o.id not in ("10008",)]
    target = unshipped[-1]
    new = Address(line1="Lijnbaan 10", city="Rotterdam", postcode="3012 EL", country="NL", name="Kim de Boer")
    moved = orders.change_shipping_address(target.id, new, idempotency_key=uuid.uuid4().hex)
    assert moved.shipping_address.line1 == "Lijnbaan 10" and moved.shipping_address.name == "Kim de Boer"
    key = uuid.uuid4().hex
    result = orders.cancel_order(target.id, idempotency_key=key, reason="moved house")
    assert result.order.status == "cancelled"
    assert orders.cancel_order(target.id, idempotency_key=key, reason="moved house").order.status == "cancelled"


def test_a_handoff_ticket_round_trips(shop_url):
    helpdesk = client(HelpdeskClient, shop_url)
    new = NewTicket(
        queue="payments",
        subject="Charged twice for 10009",
        summary="Two charges of 109.00 EUR.",
        transcript=[TranscriptLine(sender="user", text="you charged me twice")],
        metadata={"order_id": "10009"},
        customer_id="C1004",
        conversation_id="conv-clients",
    )
    ticket = helpdesk.create_ticket(new, idempotency_key=uuid.uuid4().hex)
    assert ticket.id > 0 and ticket.queue == "payments"
    helpdesk.add_message(ticket.id, "agent", "Refunding the duplicate now.", idempotency_key=uuid.uuid4().hex)
    fetched = helpdesk.get_ticket(ticket.id)
    assert fetched.metadata == {"order_id": "10009"} and fetched.messages[0].author == "agent"
    assert [t.id for t in helpdesk.tickets_for_conversation("conv-clients")] == [ticket.id]


# --- observability -----------------------------------------------------------------------------------


def test_each_call_is_measured_logged_and_carries_the_request_id(orders, caplog, tmp_path_factory):
    ok_before = sample("assistant_backend_request_seconds_count", system="orders", operation="get_order", outcome="ok")
    nf_before = sample("assistant_backend_errors_total", system="orders", outcome="not_found")
    with caplog.at_level(logging.INFO, logger="actions.backends"), request_id("conv42-turn7"):
        orders.get_order("10003")
        with pytest.raises(NotFound):
            orders.get_order("99998")
    assert (
        sample("assistant_backend_request_seconds_count", system="orders", operation="get_order", outcome="ok")
        == ok_before + 1
    )
    assert sample("assistant_backend_errors_total", system="orders", outcome="not_found") == nf_before + 1
    lines = [r for r in caplog.records if r.getMessage() == "backend call"][-2:]
    assert [(r.outcome, r.correlation_id, r.system) for r in lines] == [
        ("ok", "conv42-turn7", "orders"),
        ("not_found", "conv42-turn7", "orders"),
    ]
    assert all(r.duration_ms >= 0 and r.attempts == 1 for r in lines)


def test_the_demo_shop_logs_the_forwarded_request_id(tmp_path):
    service, base = start_demoshop(tmp_path)
    try:
        with request_id("trace-forwarded-1"):
            client(OrdersClient, base).get_order("10001")
        assert '"correlation_id": "trace-forwarded-1"' in service.log_path.read_text()
    finally:
        service.stop()


# --- failure modes -----------------------------------------------------------------------------------


def test_a_stopped_service_is_retried_then_the_breaker_opens_and_fails_fast_then_recovers(tmp_path):
    port = free_port()
    service, base = start_demoshop(tmp_path, port=port)
    orders = client(OrdersClient, base, breaker_fail_max=3, breaker_reset_seconds=1.0)
    assert orders.get_order("10001").id == "10001"
    service.stop()

    retries_before = sample("assistant_backend_retries_total", system="orders")
    with pytest.raises(Unavailable) as down:
        orders.get_order("10001")  # three attempts, each one a breaker failure: the third trips it
    assert down.value.code == "connection_error" and not isinstance(down.value, CircuitOpen)
    assert sample("assistant_backend_retries_total", system="orders") == retries_before + 2
    assert orders.core.breaker.current_state == "open"
    assert sample("assistant_circuit_breaker_state", system="orders") == 2

    started = time.perf_counter()
    with pytest.raises(CircuitOpen):
        orders.get_order("10001")
    assert time.perf_counter() - started < 0.05  # no connection attempted, no backoff

    service, base = start_demoshop(tmp_path, port=port)
    try:
        time.sleep(1.1)  # the reset timeout passes: the next call is the half-open trial
        assert orders.get_order("10001").id == "10001"
        assert orders.core.breaker.current_state == "closed"
        assert sample("assistant_circuit_breaker_state", system="orders") == 0
    finally:
        service.stop()


def test_a_slow_service_hits_the_read_timeout(tmp_path):
    service, base = start_demoshop(tmp_path, env={"DEMOSHOP_FAULT_DELAY_MS": "1500"})
    try:
        slow = client(OrdersClient, base, read_timeout=0.3, max_attempts=2)
        started = time.perf_counter()
        with pytest.raises(Unavailable) as err:
            slow.get_order("10001")
        assert err.value.code == "timeout"
        assert time.perf_counter() - started < 1.5  # gave up before the server's first answer
        patient = client(OrdersClient, base, read_timeout=5.0)
        assert patient.get_order("10001").id == "10001"
    finally:
        service.stop()


class _Nonsense(BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self):
        type(self).calls += 1
        if self.path.startswith("/v1/orders/500"):
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"upstream down")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        payload = b'{"id": "1"}' if self.path.startswith("/v1/orders/shape") else b"<html>maintenance</html>"
        self.wfile.write(payload)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture()
def nonsense_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Nonsense)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_nonsense_answers_are_unavailable_and_5xx_is_retried_only_when_safe(nonsense_url):
    orders = client(OrdersClient, nonsense_url, breaker_fail_max=100)  # this test is about retries, not the breaker
    with pytest.raises(Unavailable) as html:
        orders.get_order("10001")
    assert html.value.code == "bad_response"
    with pytest.raises(Unavailable) as shape:
        orders.get_order("shape")
    assert shape.value.code == "bad_response"

    _Nonsense.calls = 0
    with pytest.raises(Unavailable):
        orders.get_order("500")
    assert _Nonsense.calls == 3  # a GET is retried up to max_attempts

    _Nonsense.calls = 0
    raw = orders.core
    with pytest.raises(Unavailable):
        raw.request("POST", "/v1/orders/500/cancel", "cancel_order", json={})
    assert _Nonsense.calls == 1  # a mutation without an idempotency key is never repeated
    _Nonsense.calls = 0
    with pytest.raises(Unavailable):
        raw.request("POST", "/v1/orders/500/cancel", "cancel_order", json={}, idempotency_key="k1")
    assert _Nonsense.calls == 3


def test_settings_come_from_the_environment():
    env = {
        "ORDERS_BASE_URL": "https://orders.shop.example/",
        "ORDERS_API_KEY": "s3cret",
        "BACKEND_READ_TIMEOUT": "7.5",
        "BACKEND_BREAKER_FAIL_MAX": "9",
    }
    s = SystemSettings.from_env("orders", env)
    assert (s.base_url, s.api_key, s.read_timeout, s.breaker_fail_max) == (
        "https://orders.shop.example",
        "s3cret",
        7.5,
        9,
    )
    defaults = SystemSettings.from_env("crm", {})
    assert defaults.base_url == "http://127.0.0.1:8081" and defaults.api_key == "demoshop-dev-key"
    with pytest.raises(ValueError):
        SystemSettings.from_env("orders", {"BACKEND_READ_TIMEOUT": "soon"})
    with pytest.raises(ValueError):
        SystemSettings.from_env("warehouse", {})
