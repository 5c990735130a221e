"""The error shape of the v1 contract: `{"error": {"code", "message"}}` with the right status."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer the shop gives on purpose: bad input, a missing record, a forbidden state change."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"{kind}_not_found", f"No {kind} with id {ident}.")


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)
