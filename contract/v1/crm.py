"""CRM records: customers, postal addresses and one-time-code verification."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt

from contract.v1.wire import Record, UtcDateTime


class Address(Record):
    """A postal address: a customer's (sent without `name`) or where an order goes."""

    name: str | None = None
    line1: str
    line2: str | None = None
    city: str
    postcode: str
    country: str

    def to_json(self) -> dict[str, Any]:
        """The address as a request body, leaving out the parts it does not have."""
        return self.dict(exclude_none=True)

    def one_line(self) -> str:
        """The address on one line, for a message to the shopper."""
        parts = [self.name, self.line1, self.line2, f"{self.postcode} {self.city}", self.country]
        return ", ".join(p for p in parts if p)


class Customer(Record):
    """A shopper as the CRM knows them."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    address: Address = Field(..., exclude={"name"})
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CustomerList(Record):
    """The answer of a customer look-up by email or phone."""

    customers: list[Customer]


class Verification(Record):
    """A one-time code on its way to the customer (`destination` is masked)."""

    verification_id: str
    customer_id: str
    channel: str
    destination: str
    expires_at: UtcDateTime


class VerificationResult(Record):
    """What checking a code said: verified, invalid (attempts left), locked or expired."""

    verification_id: str
    customer_id: str
    status: str
    verified: StrictBool
    attempts_left: StrictInt
