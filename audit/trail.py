"""The audit trail the action server writes through: the store, with the spool for when the store is down."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from audit.records import AuditRecord, Change
from audit.settings import AuditSettings
from audit.spool import Spool
from audit.store import AuditStore

log = logging.getLogger("audit")


class AuditTrail:
    """Appends changes to the store, first those the spool holds; a change the store cannot take is spooled."""

    def __init__(self, store: AuditStore, spool: Spool):
        self.store = store
        self.spool = spool

    def ready(self) -> bool:
        """Whether the store answers now: the action server makes no change while it does not."""
        return self.store.ping()

    def record(self, change: Change) -> AuditRecord | None:
        """Append `change` after any spooled ones; on a store error log it and spool the change instead.

        Never raises for a store that is down (nor for a spool that cannot be written: that is logged as
        critical, with what identifies the change): the change this records has already been made.
        """
        try:
            self.spool.drain(self.store.append)
            return self.store.append(change)
        except (SQLAlchemyError, OSError, ValueError, TypeError) as error:  # a store down, or a spool line unreadable
            log.error(
                "audit store unavailable: change kept in the local spool",
                extra={"what": change.what, "record_id": change.record_id, "error": type(error).__name__},
            )
        try:
            self.spool.put(change)
        except OSError as error:
            log.critical(
                "audit record lost: neither the store nor the spool took it",
                extra={
                    "what": change.what,
                    "record_id": change.record_id,
                    "customer_id": change.customer_id,
                    "idempotency_key": change.idempotency_key,
                    "outcome": change.outcome,
                    "error": type(error).__name__,
                },
            )
        return None


_trails: dict[tuple[str, str], AuditTrail] = {}
_lock = threading.Lock()


def current_trail() -> AuditTrail:
    """The process's trail for the current settings (one engine per database URL)."""
    settings = AuditSettings.current()
    key = (settings.database_url, settings.spool_path)
    with _lock:
        if key not in _trails:
            _trails[key] = AuditTrail(AuditStore(settings.database_url), Spool(settings.spool_path))
        return _trails[key]
