"""CRM client: who the shopper is, their contact details, and proving it with a one-time code."""

from __future__ import annotations

from actions.backends.base import BackendClient, segment
from actions.backends.models import Customer, CustomerList, Verification, VerificationResult


class CrmClient(BackendClient):
    """Typed calls to the CRM of the v1 contract."""

    system = "crm"

    def get_customer(self, customer_id: str) -> Customer:
        data = self.core.request("GET", f"/v1/customers/{segment(customer_id)}", "get_customer")
        return self._parse(Customer, data)

    def find_by_email(self, email: str) -> Customer | None:
        data = self.core.request("GET", "/v1/customers", "find_customer", params={"email": email.strip()})
        found = self._parse(CustomerList, data).customers
        return found[0] if found else None

    def update_contact(
        self, customer_id: str, *, idempotency_key: str, email: str | None = None, phone: str | None = None
    ) -> Customer:
        body = {k: v for k, v in (("email", email), ("phone", phone)) if v is not None}
        if not body:
            raise ValueError("give an email or a phone number to update")
        data = self.core.request(
            "PATCH",
            f"/v1/customers/{segment(customer_id)}",
            "update_customer",
            json=body,
            idempotency_key=idempotency_key,
        )
        return self._parse(Customer, data)

    def start_verification(self, customer_id: str, *, idempotency_key: str, channel: str = "email") -> Verification:
        data = self.core.request(
            "POST",
            f"/v1/customers/{segment(customer_id)}/verification",
            "start_verification",
            json={"channel": channel},
            idempotency_key=idempotency_key,
        )
        return self._parse(Verification, data)

    def check_verification(
        self, customer_id: str, verification_id: str, code: str, *, idempotency_key: str
    ) -> VerificationResult:
        data = self.core.request(
            "POST",
            f"/v1/customers/{segment(customer_id)}/verification/check",
            "check_verification",
            json={"verification_id": verification_id, "code": code},
            idempotency_key=idempotency_key,
        )
        return self._parse(VerificationResult, data)
