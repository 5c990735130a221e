"""Orders client: an order's state and shipment, and the changes allowed before it ships."""

from __future__ import annotations

from actions.backends.base import BackendClient, segment
from actions.backends.models import Address, CancelResult, Invoice, Order, OrderPage


class OrdersClient(BackendClient):
    """Typed calls to the order system of the v1 contract."""

    system = "orders"

    def get_order(self, order_id: str) -> Order:
        data = self.core.request("GET", f"/v1/orders/{segment(order_id)}", "get_order")
        return self._parse(Order, data)

    def list_orders(self, *, customer_id: str | None = None, status: str | None = None, limit: int = 20) -> list[Order]:
        params: dict[str, str | int] = {"limit": limit}
        if customer_id:
            params["customer_id"] = customer_id
        if status:
            params["status"] = status
        data = self.core.request("GET", "/v1/orders", "list_orders", params=params)
        return self._parse(OrderPage, data).orders

    def cancel_order(self, order_id: str, *, idempotency_key: str, reason: str | None = None) -> CancelResult:
        body = {"reason": reason} if reason else {}
        data = self.core.request(
            "POST",
            f"/v1/orders/{segment(order_id)}/cancel",
            "cancel_order",
            json=body,
            idempotency_key=idempotency_key,
        )
        return self._parse(CancelResult, data)

    def change_shipping_address(self, order_id: str, address: Address, *, idempotency_key: str) -> Order:
        data = self.core.request(
            "PUT",
            f"/v1/orders/{segment(order_id)}/shipping-address",
            "change_shipping_address",
            json=address.to_json(),
            idempotency_key=idempotency_key,
        )
        return self._parse(Order, data)

    def send_invoice(self, order_id: str, *, idempotency_key: str) -> Invoice:
        """Email the order's VAT invoice to the customer's address on file."""
        data = self.core.request(
            "POST", f"/v1/orders/{segment(order_id)}/invoice", "send_invoice", json={}, idempotency_key=idempotency_key
        )
        return self._parse(Invoice, data)
