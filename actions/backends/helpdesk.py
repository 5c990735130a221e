"""Helpdesk client: tickets that hand a conversation to a human agent, and a customer's tickets found and erased
for their GDPR rights (privacy/)."""

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

    def tickets_for_customer(self, customer_id: str, *, page: int = 200) -> list[Ticket]:
        """Every ticket of the customer, newest first, page by page (for an export or an erasure)."""
        found: list[Ticket] = []
        while True:
            params = {"customer_id": customer_id, "limit": page, "offset": len(found)}
            data = self.core.request("GET", "/v1/tickets", "list_tickets", params=params)
            tickets = self._parse(TicketList, data).tickets
            found += tickets
            if len(tickets) < page:
                return found

    def erase_ticket(self, ticket_id: int, *, idempotency_key: str) -> Ticket:
        """Erase the ticket's texts and whom it is about (a customer's right to erasure); the erased ticket."""
        data = self.core.request(
            "POST",
            f"/v1/tickets/{segment(ticket_id)}/erasure",
            "erase_ticket",
            json={},
            idempotency_key=idempotency_key,
        )
        return self._parse(Ticket, data)

    def add_message(self, ticket_id: int, author: str, body: str, *, idempotency_key: str) -> TicketMessage:
        data = self.core.request(
            "POST",
            f"/v1/tickets/{segment(ticket_id)}/messages",
            "add_ticket_message",
            json={"author": author, "body": body},
            idempotency_key=idempotency_key,
        )
        return self._parse(TicketMessage, data)
