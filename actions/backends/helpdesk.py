"""Helpdesk client: tickets that hand a conversation to a human agent."""

from __future__ import annotations

from actions.backends.base import BackendClient, segment
from actions.backends.models import NewTicket, Ticket, TicketList, TicketMessage


class HelpdeskClient(BackendClient):
    """Typed calls to the helpdesk of the v1 contract."""

    system = "helpdesk"

    def create_ticket(self, ticket: NewTicket, *, idempotency_key: str) -> Ticket:
        data = self.core.request(
            "POST", "/v1/tickets", "create_ticket", json=ticket.to_json(), idempotency_key=idempotency_key
        )
        return self._parse(Ticket, data)

    def get_ticket(self, ticket_id: int) -> Ticket:
        data = self.core.request("GET", f"/v1/tickets/{segment(ticket_id)}", "get_ticket")
        return self._parse(Ticket, data)

    def tickets_for_conversation(self, conversation_id: str) -> list[Ticket]:
        data = self.core.request("GET", "/v1/tickets", "list_tickets", params={"conversation_id": conversation_id})
        return self._parse(TicketList, data).tickets

    def add_message(self, ticket_id: int, author: str, body: str, *, idempotency_key: str) -> TicketMessage:
        data = self.core.request(
            "POST",
            f"/v1/tickets/{segment(ticket_id)}/messages",
            "add_ticket_message",
            json={"author": author, "body": body},
            idempotency_key=idempotency_key,
        )
        return self._parse(TicketMessage, data)
