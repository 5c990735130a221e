"""The backend clients the actions use: built once per process from the environment."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from actions.backends import CrmClient, HelpdeskClient, OrdersClient, PaymentsClient


@dataclass(frozen=True)
class Backends:
    """One client per retailer system."""

    crm: CrmClient
    orders: OrdersClient
    payments: PaymentsClient
    helpdesk: HelpdeskClient

    @classmethod
    def from_env(cls, environ=None) -> Backends:
        return cls(
            CrmClient.from_env(environ),
            OrdersClient.from_env(environ),
            PaymentsClient.from_env(environ),
            HelpdeskClient.from_env(environ),
        )


_current: Backends | None = None
_lock = threading.Lock()


def backends() -> Backends:
    """The process's clients, created on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Backends.from_env()
        return _current


def use_backends(value: Backends | None) -> None:
    """Point the actions at other clients (tests), or back at the environment's with None."""
    global _current
    with _lock:
        _current = value
