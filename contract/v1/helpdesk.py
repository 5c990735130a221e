"""Helpdesk records: the ticket a handoff opens, tickets as the helpdesk keeps them, and their messages."""

from __future__ import annotations

from typing import Any

from pydantic import StrictInt

from contract.v1.wire import Record, UtcDateTime


class TranscriptLine(Record):
    """One line of the conversation a ticket carries; `sender` is user, bot or agent."""

    sender: str
    text: str
    timestamp: str | None = None


class NewTicket(Record):
    """What a handoff sends to the helpdesk: enough that the shopper never repeats themselves."""

    queue: str
    priority: str = "normal"
    subject: str
    summary: str
    transcript: list[TranscriptLine] = []
    metadata: dict[str, Any] = {}
    customer_id: str | None = None
    conversation_id: str | None = None
    # The correlation id of the message that asked for the person (foundation/correlation.py): an agent finds the
    # turn in every process's logs with it. Optional: a helpdesk that does not keep it ignores it.
    correlation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ticket as a request body, leaving out the ids it does not have."""
        return {k: v for k, v in self.dict().items() if v is not None}


class TicketMessage(Record):
    """A message added to a ticket by an agent, the customer or the assistant."""

    id: StrictInt
    ticket_id: StrictInt
    author: str
    body: str
    created_at: UtcDateTime


class Ticket(Record):
    """A helpdesk ticket; a ticket list leaves its `messages` out."""

    id: StrictInt
    queue: str
    priority: str
    status: str
    subject: str
    summary: str
    transcript: list[TranscriptLine] = []
    metadata: dict[str, Any] = {}
    customer_id: str | None = None
    conversation_id: str | None = None
    correlation_id: str | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    # When its texts and ids were erased at a customer's request (`POST /v1/tickets/{id}/erasure`); optional: a
    # helpdesk that deletes erased tickets instead never sends it.
    erased_at: UtcDateTime | None = None
    messages: list[TicketMessage] = []


class TicketList(Record):
    """The tickets of a conversation or a customer, newest first, without their messages."""

    tickets: list[Ticket]
