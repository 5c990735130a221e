"""Typed clients for the retailer's systems, all over one resilient HTTP core (`http.HttpCore`)."""

from actions.backends.crm import CrmClient
from actions.backends.errors import (
    BackendError,
    CircuitOpen,
    Conflict,
    InvalidRequest,
    NotFound,
    Unauthorized,
    Unavailable,
)
from actions.backends.helpdesk import HelpdeskClient
from actions.backends.orders import OrdersClient
from actions.backends.payments import PaymentsClient

__all__ = [
    "BackendError",
    "CircuitOpen",
    "Conflict",
    "CrmClient",
    "HelpdeskClient",
    "InvalidRequest",
    "NotFound",
    "OrdersClient",
    "PaymentsClient",
    "Unauthorized",
    "Unavailable",
]
