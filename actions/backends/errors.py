"""Typed failures of a backend call, so an action chooses a response without reading HTTP codes."""

from __future__ import annotations


class BackendError(Exception):
    """Any failure talking to a retailer system."""

    def __init__(self, system: str, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(f"{system}: {message}")
        self.system = system
        self.status = status
        self.code = code
        self.message = message


class NotFound(BackendError):
    """The record does not exist (or the caller may not see it)."""


class Unauthorized(BackendError):
    """The system refused our credentials: a configuration problem, never retried."""


class Conflict(BackendError):
    """The system refused the change in the record's current state (e.g. cancel after shipping)."""


class InvalidRequest(BackendError):
    """The system refused the request's content (a 400 or 422)."""


class Unavailable(BackendError):
    """The system did not answer usefully: down, slow, 5xx or nonsense. Retried where it is safe."""


class CircuitOpen(Unavailable):
    """The circuit breaker is open: the system failed repeatedly, so we fail fast without calling it."""
