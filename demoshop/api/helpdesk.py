"""Helpdesk: tickets that carry a handed-off conversation to a human agent, and their messages.

A customer's right to erasure reaches the helpdesk too (privacy/, `make gdpr-delete`): `GET /v1/tickets?
customer_id=` pages through a customer's tickets, and `POST /v1/tickets/{id}/erasure` erases what a ticket
says (subject, summary, transcript, metadata, its messages' bodies) and who it is about (customer and
conversation ids), keeping the queue, priority, status and dates the helpdesk counts with. The idempotency
store's copies of the ticket and its messages are erased with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, conlist, constr
from sqlalchemy import select

from demoshop import serializers
from demoshop.api.orders import EmptyBody, _bounded_int
from demoshop.app import database, mutation, parse_body
from demoshop.errors import ApiError, not_found
from demoshop.models import IdempotencyRecord, Ticket, TicketMessage
from foundation import correlation

bp = Blueprint("helpdesk", __name__)
# The largest id a database integer column holds; a bigger one in the URL is no ticket (not a driver overflow).
MAX_TICKET_ID = 2**63 - 1
CORRELATION_ID = f"^{correlation.ACCEPTED.pattern}$"
ERASED = "[erased]"  # what an erased ticket's texts read


class TranscriptLine(BaseModel):
    sender: Literal["user", "bot", "agent"]
    text: constr(max_length=4000)
    timestamp: str | None = None


class TicketRequest(BaseModel):
    queue: Literal["orders", "refunds", "payments", "account", "general"]
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    subject: constr(strip_whitespace=True, min_length=1, max_length=200)
    summary: constr(strip_whitespace=True, min_length=1, max_length=4000)
    transcript: conlist(TranscriptLine, max_items=500) = []
    metadata: dict[str, Any] = {}
    customer_id: constr(max_length=16) | None = None
    conversation_id: constr(max_length=120) | None = None
    correlation_id: constr(regex=CORRELATION_ID) | None = None

    class Config:
        extra = "forbid"


class MessageRequest(BaseModel):
    author: Literal["agent", "customer", "assistant"]
    body: constr(strip_whitespace=True, min_length=1, max_length=4000)

    class Config:
        extra = "forbid"


@bp.post("/v1/tickets")
def create_ticket():
    body = parse_body(TicketRequest)

    def act(s):
        now = datetime.utcnow()
        ticket = Ticket(
            queue=body.queue,
            priority=body.priority,
            status="open",
            subject=body.subject,
            summary=body.summary,
            transcript=[line.dict() for line in body.transcript],
            meta=body.metadata,
            customer_id=body.customer_id,
            conversation_id=body.conversation_id,
            correlation_id=body.correlation_id,
            created_at=now,
            updated_at=now,
        )
        s.add(ticket)
        s.flush()
        return 201, serializers.ticket(ticket, with_messages=False) | {"messages": []}

    # The correlation id says which delivery asked, not what the ticket says: a handoff redelivered under a new id
    # with the same key replays the first ticket instead of being refused as another request.
    return mutation(body.dict(exclude={"correlation_id"}), act)


@bp.get("/v1/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):
    with database().read() as s:
        ticket = _ticket(s, ticket_id)
        if ticket is None:
            raise not_found("ticket", str(ticket_id))
        return jsonify(serializers.ticket(ticket))


@bp.get("/v1/tickets")
def list_tickets():
    conversation_id = request.args.get("conversation_id")
    customer_id = request.args.get("customer_id")
    if not conversation_id and not customer_id:
        raise ApiError(400, "missing_filter", "Give conversation_id= or customer_id= to list tickets.")
    limit = _bounded_int(request.args.get("limit"), "limit", default=50, low=1, high=200)
    offset = _bounded_int(request.args.get("offset"), "offset", default=0, low=0, high=1_000_000)
    query = select(Ticket).order_by(Ticket.id.desc()).limit(limit).offset(offset)
    if conversation_id:
        query = query.where(Ticket.conversation_id == conversation_id)
    if customer_id:
        query = query.where(Ticket.customer_id == customer_id)
    with database().read() as s:
        return jsonify(serializers.ticket_list(s.execute(query).scalars()))


@bp.post("/v1/tickets/<int:ticket_id>/messages")
def add_message(ticket_id: int):
    body = parse_body(MessageRequest)

    def act(s):
        ticket = _ticket_to_change(s, ticket_id)
        now = datetime.utcnow()
        message = TicketMessage(ticket_id=ticket.id, author=body.author, body=body.body, created_at=now)
        s.add(message)
        ticket.updated_at = now
        s.flush()
        return 201, serializers.ticket_message(message)

    return mutation(body, act)


@bp.post("/v1/tickets/<int:ticket_id>/erasure")
def erase_ticket(ticket_id: int):
    """Erase the ticket's texts and the ids of whom it is about (the module's docstring); erasing twice is fine."""
    body = parse_body(EmptyBody)

    def act(s):
        ticket = _ticket_to_change(s, ticket_id)
        now = datetime.utcnow()
        ticket.subject, ticket.summary, ticket.transcript, ticket.meta = ERASED, ERASED, [], {}
        ticket.customer_id = ticket.conversation_id = None
        for message in ticket.messages:
            message.body = ERASED
        ticket.erased_at = ticket.erased_at or now
        ticket.updated_at = now
        s.flush()
        _erase_stored_answers(s, ticket)
        return 200, serializers.ticket(ticket)

    return mutation(body, act)


def _erase_stored_answers(s, ticket: Ticket) -> None:
    """The idempotency store's answers that carried this ticket or one of its messages, erased in place: a
    replayed request then answers with the erased ticket, never with what it said."""
    erased = serializers.ticket(ticket, with_messages=False) | {"messages": []}
    messages = {message.id: serializers.ticket_message(message) for message in ticket.messages}
    scopes = ("POST /v1/tickets", f"POST /v1/tickets/{ticket.id}/messages")
    for record in s.execute(select(IdempotencyRecord).where(IdempotencyRecord.scope.in_(scopes))).scalars():
        answer = record.response if isinstance(record.response, dict) else {}
        if record.scope == scopes[0] and answer.get("id") == ticket.id:
            record.response = erased
        elif record.scope == scopes[1] and answer.get("id") in messages:
            record.response = messages[answer["id"]]


def _ticket_to_change(s, ticket_id: int) -> Ticket:
    """The ticket, locked for this transaction's change; a 404 when there is none."""
    ticket = _ticket(s, ticket_id, lock=True)
    if ticket is None:
        raise not_found("ticket", str(ticket_id))
    return ticket


def _ticket(s, ticket_id: int, *, lock: bool = False) -> Ticket | None:
    """The ticket with this id, or None, also for an id no database integer can hold."""
    if not 0 <= ticket_id <= MAX_TICKET_ID:
        return None
    return s.get(Ticket, ticket_id, with_for_update=lock)
