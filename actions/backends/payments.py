"""Payments client: an order's charges and refunds, and new refunds."""

from __future__ import annotations

from decimal import Decimal

from actions.backends.base import BackendClient, segment
from actions.backends.models import PaymentRecord, Refund


class PaymentsClient(BackendClient):
    """Typed calls to the payment system of the v1 contract."""

    system = "payments"

    def payments_for_order(self, order_id: str) -> PaymentRecord:
        data = self.core.request("GET", "/v1/payments", "list_payments", params={"order_id": str(order_id)})
        return self._parse(PaymentRecord, data)

    def create_refund(
        self, order_id: str, *, reason: str, idempotency_key: str, amount: Decimal | None = None
    ) -> Refund:
        """Refund `amount`, or everything still refundable when it is None."""
        body = {"order_id": str(order_id), "reason": reason}
        if amount is not None:
            body["amount"] = str(amount)
        data = self.core.request("POST", "/v1/refunds", "create_refund", json=body, idempotency_key=idempotency_key)
        return self._parse(Refund, data)

    def get_refund(self, refund_id: str) -> Refund:
        data = self.core.request("GET", f"/v1/refunds/{segment(refund_id)}", "get_refund")
        return self._parse(Refund, data)
