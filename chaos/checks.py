"""What the stores say after a fault, against what the shoppers sent: events lost, duplicate mutations.

- Events lost: each answered turn must be in the tracker store (PostgreSQL, the `events` table) as a `user` event
  of its conversation (`rest:<sender>`) with its text; a turn answered but not stored was lost.
- Duplicate mutations: each confirmed cancellation must leave at most one refund per charge of its order in the
  demo shop's records; a second one is a duplicate. The orders still cancellable come from the shop's API.
"""

from __future__ import annotations

import json
from collections import Counter

import psycopg2
import requests

from chaos.load import TurnRecord

CONVERSATION_PREFIX = "rest:"


def _connect(port: int, database: str):
    return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=database, connect_timeout=5)


def events_lost(postgres_port: int, turns: list[TurnRecord]) -> int:
    """Answered turns with no matching `user` event in the tracker store."""
    answered = Counter((t.sender, t.text) for t in turns if t.answered)
    if not answered:
        return 0
    senders = sorted({CONVERSATION_PREFIX + sender for sender, _ in answered})
    stored: Counter = Counter()
    with _connect(postgres_port, "assistant") as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT sender_id, data FROM events WHERE type_name = 'user' AND sender_id = ANY(%s)", (senders,)
        )
        for sender_id, data in cursor.fetchall():
            stored[(sender_id.removeprefix(CONVERSATION_PREFIX), json.loads(data).get("text"))] += 1
    return sum(max(0, count - stored[key]) for key, count in answered.items())


def duplicate_refunds(postgres_port: int, orders: list[str]) -> tuple[int, int]:
    """(orders recorded as cancelled, refunds beyond one per charge) among `orders`."""
    if not orders:
        return 0, 0
    with _connect(postgres_port, "demoshop") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders WHERE status = 'cancelled' AND id = ANY(%s)", (orders,))
        cancelled = cursor.fetchone()[0]
        cursor.execute(
            "SELECT coalesce(sum(n - charges), 0) FROM (SELECT order_id, count(*) AS n, count(DISTINCT charge_id) "
            "AS charges FROM refunds WHERE reason = 'order cancelled' AND order_id = ANY(%s) GROUP BY order_id) t",
            (orders,),
        )
        duplicates = int(cursor.fetchone()[0])
    return int(cancelled), duplicates


def cancellable_orders(shop_url: str, api_key: str, customers: range = range(1001, 1041)) -> list[tuple[str, str]]:
    """(customer, order) pairs of orders still pending or paid, one per customer: what the load may cancel."""
    found: list[tuple[str, str]] = []
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {api_key}"
    for number in customers:
        customer = f"C{number}"
        answer = http.get(f"{shop_url}/v1/orders", params={"customer_id": customer}, timeout=10)
        answer.raise_for_status()
        for order in answer.json()["orders"]:
            if order["status"] in ("pending", "paid"):
                found.append((customer, order["id"]))
                break
    return found
