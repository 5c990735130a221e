"""Every refusal of the Rasa server in the project's JSON error shape, whatever route or method was asked for.

`answer_errors_as_json` is one of the runtime's patches (rasa_runtime/patches.py, `RASA_PATCH_JSON_ERRORS`). It
replaces Sanic's `ErrorHandler.default`, the answer to any exception no handler claimed. A wrong path (404), a
wrong method (405), a body too large (413) or a malformed request (400) are then answered
`{"error": {"code", "message"}}` with their status and headers (`Allow`, ...). Before, they got Sanic's
`{"description", "status", "message"}`, or an HTML page when the client did not ask for JSON. Anything else is
logged as one record and answered as a JSON 500. Rasa's own API errors (`ErrorResponse`) keep their handler and
the shape Rasa's HTTP API documents. Only the Rasa process runs this runtime, so only its Sanic apps change.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("rasa_runtime.json_errors")

# Sanic's status codes and the code word this project uses for each.
CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 408: "timeout", 413: "too_large"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The project's error shape for a refusal with this status."""
    code = CODES.get(status, "bad_request" if status < 500 else "internal_error")
    return {"error": {"code": code, "message": message}}


def answer_errors_as_json() -> None:
    """Make Sanic's default answer to an exception the project's JSON error (see the module's doc)."""
    from sanic import response
    from sanic.handlers import ErrorHandler

    original = ErrorHandler.default
    if hasattr(original, "__wrapped__"):
        return

    def default(self: Any, request: Any, exception: BaseException) -> Any:
        status = int(getattr(exception, "status_code", 500) or 500)
        if status >= 500:
            log.error("request failed", exc_info=exception, extra={"path": getattr(request, "path", None)})
            return response.json(error_body(500, "The server failed; the error is in its log."), status=500)
        headers = dict(getattr(exception, "headers", None) or {})
        message = str(exception) or CODES.get(status, "refused")
        return response.json(error_body(status, message), status=status, headers=headers)

    default.__wrapped__ = original  # type: ignore[attr-defined]
    ErrorHandler.default = default  # type: ignore[method-assign]
