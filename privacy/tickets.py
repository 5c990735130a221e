"""A customer's helpdesk tickets, for their copy of their data and their erasure (`make gdpr-export`,
`make gdpr-delete`).

A handoff leaves a ticket in the retailer's helpdesk with the customer's id (actions/handoff.py). Through the
typed helpdesk client and its one resilient HTTP core (actions/backends/), the same client the action server
uses: its address and key are the helpdesk's (`HELPDESK_BASE_URL`, `HELPDESK_API_KEY`, or the demo shop's).
`PRIVACY_TICKETS=false` leaves the helpdesk out, for a deployment whose helpdesk has a GDPR process of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions.backends import HelpdeskClient
from actions.backends.models import Ticket


@dataclass(frozen=True)
class CustomerTickets:
    """The helpdesk seen from `python -m privacy`: a customer's tickets listed, exported and erased."""

    helpdesk: HelpdeskClient

    @classmethod
    def from_env(cls) -> CustomerTickets:
        """The helpdesk of the environment's backend settings (actions/backends/settings.py)."""
        return cls(HelpdeskClient.from_env())

    def of(self, customer_id: str) -> list[Ticket]:
        """Every ticket of the customer, newest first."""
        return self.helpdesk.tickets_for_customer(customer_id)

    def export(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's tickets as the helpdesk keeps them, messages included, oldest first."""
        return [self.helpdesk.get_ticket(ticket.id).to_wire() for ticket in reversed(self.of(customer_id))]

    def erase(self, customer_id: str, *, dry_run: bool) -> list[int]:
        """Erase every ticket of the customer (or, on a dry run, only list them); the ticket ids, oldest first."""
        ids = [ticket.id for ticket in reversed(self.of(customer_id))]
        if not dry_run:
            for ticket_id in ids:
                self.helpdesk.erase_ticket(ticket_id, idempotency_key=f"gdpr-erasure-{ticket_id}")
        return ids
