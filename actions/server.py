"""The action server's HTTP app: rasa-sdk's executor behind a bearer token, a checked request shape and no CORS.

rasa-sdk's own app (`rasa_sdk.endpoint.create_app`) answers anyone: no authentication, CORS `*`, a 500 that
echoes the request body for a malformed tracker. This app keeps its routes and its executor and adds:

- `Authorization: Bearer <ACTION_SERVER_TOKEN>` on `/webhook` and `/actions` (compared in constant time), else
  401 with the project's JSON error; `/health` stays open for probes;
- no CORS headers at all: only the Rasa server calls this, never a browser;
- the action call's shape checked before any action runs (`ActionCall`): 400 naming the first bad field;
- the run bound to the message's correlation id (`message_correlation_id`), for its log lines and backend calls;
- an action that raises is logged (one record, the traceback in one field) and answered with the domain's
  `utter_something_went_wrong`, so the shopper hears that rather than nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import zlib
from typing import Any

from pydantic import BaseModel, Field, ValidationError, validator
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from foundation import correlation

log = logging.getLogger("actions.server")
OPEN_PATHS = frozenset({"/health"})
FAILED_ACTION_RESPONSE = "utter_something_went_wrong"


def error(status: int, code: str, message: str) -> HTTPResponse:
    """The project's error shape: `{"error": {"code", "message"}}`."""
    return response.json({"error": {"code": code, "message": message}}, status=status)


class TrackerPayload(BaseModel):
    """The part of Rasa's tracker dump the actions read; anything else in it passes untouched."""

    sender_id: str = Field(..., min_length=1)  # as long as a channel made it: Rasa sets no bound
    slots: dict[str, Any] = {}
    latest_message: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    paused: bool = False
    followup_action: str | None = None
    active_loop: dict[str, Any] | None = None
    latest_action_name: str | None = None

    @validator("events", each_item=True)
    def _event_has_a_type(cls, event: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(event.get("event"), str):
            raise ValueError("every event needs an `event` name")
        return event


class ActionCall(BaseModel):
    """What Rasa POSTs to /webhook: the action to run, the conversation and the domain."""

    next_action: str = Field(..., min_length=1, max_length=200)
    sender_id: str | None = None
    tracker: TrackerPayload
    domain: dict[str, Any] = {}
    version: str | None = None


def parse_action_call(request: Request) -> dict[str, Any]:
    """The request's action call as a dict, checked; ValueError with a message a caller can act on."""
    body = request.body or b""
    if request.headers.get("Content-Encoding") == "deflate":
        try:
            body = zlib.decompress(body)
        except zlib.error as problem:
            raise ValueError(f"the body is not deflate data: {problem}") from None
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        raise ValueError("the body is not JSON") from None
    if not isinstance(raw, dict):
        raise ValueError("the body must be a JSON object")
    try:
        ActionCall.parse_obj(raw)
    except ValidationError as problem:
        first = problem.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from None
    return raw


def message_correlation_id(call: dict[str, Any]) -> str:
    """The correlation id the channel gave the message this action answers (the tracker's latest message's
    metadata), so the run's log lines and backend calls carry it; a new one when it has none."""
    latest = call["tracker"].get("latest_message") or {}
    metadata = latest.get("metadata") if isinstance(latest, dict) else None
    return correlation.from_metadata(metadata if isinstance(metadata, dict) else None) or correlation.new()


def authorised(request: Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (constant-time comparison)."""
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def create_app(action_package: str, token: str) -> Sanic:
    """The action server app over the actions of `action_package`, requiring `token` on its API."""
    app = Sanic("larkspur_actions", configure_logging=False)
    executor = ActionExecutor()
    executor.register_package(action_package)

    @app.middleware("request")
    async def _require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if not authorised(request, token):
            log.warning("action server call refused: missing or wrong token", extra={"path": request.path})
            return error(401, "unauthorized", "This endpoint needs `Authorization: Bearer <ACTION_SERVER_TOKEN>`.")
        return None

    @app.get("/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/actions")
    async def actions(_: Request) -> HTTPResponse:
        return response.json([{"name": name} for name in executor.actions])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        try:
            call = parse_action_call(request)
        except ValueError as problem:
            log.warning("action call refused", extra={"error": str(problem)})
            body = {"error": {"code": "invalid_action_call", "message": str(problem)}, "action_name": None}
            return response.json(body, status=400)  # Rasa reads `action_name` from every 400
        with correlation.bound(message_correlation_id(call)):
            try:
                result = await executor.run(call)
            except ActionExecutionRejection as rejection:
                return response.json({"error": rejection.message, "action_name": rejection.action_name}, status=400)
            except ActionNotFoundException as missing:
                return error(404, "action_not_found", missing.message)
            except Exception:
                log.exception("action failed", extra={"action": call["next_action"]})
                result = {"events": [], "responses": [{"response": FAILED_ACTION_RESPONSE}]}
            return response.json(result)

    @app.exception(Exception)
    async def _unexpected(request: Request, problem: Exception) -> HTTPResponse:
        status = getattr(problem, "status_code", 500)
        if status >= 500:
            log.exception("action server error", extra={"path": request.path})
            return error(500, "internal_error", "The action server failed; the error is in its log.")
        return error(status, "bad_request", str(problem))

    return app
