"""Orders client: an order's state and shipment, the changes allowed before it ships, and its returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.backends.base import BackendClient, segment
from actions.backends.models import Address, CancelResult, Invoice, Order, OrderPage, Return, ReturnList


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

    def start_return(
        self, order_id: str, *, reason: str, idempotency_key: str, items: Mapping[str, int] | None = None
    ) -> Return:
        """Open a return of `items` (SKU to quantity), or of every item not yet in a return when None.

        The answer carries the label the shopper prints; the refund follows when the warehouse receives it.
        """
        body: dict[str, Any] = {"order_id": str(order_id), "reason": reason}
        if items is not None:
            body["items"] = [{"sku": sku, "quantity": quantity} for sku, quantity in items.items()]
        data = self.core.request("POST", "/v1/returns", "start_return", json=body, idempotency_key=idempotency_key)
        return self._parse(Return, data)

    def get_return(self, return_id: str) -> Return:
        data = self.core.request("GET", f"/v1/returns/{segment(return_id)}", "get_return")
        return self._parse(Return, data)

    def returns_for_order(self, order_id: str) -> list[Return]:
        """The order's returns, oldest first (an empty list when it has none)."""
        data = self.core.request("GET", "/v1/returns", "list_returns", params={"order_id": str(order_id)})
        return self._parse(ReturnList, data).returns
