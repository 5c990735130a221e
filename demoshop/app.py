"""The demo shop's Flask application: auth, correlation ids, JSON errors, one blueprint per system.

Each request runs with the caller's `X-Request-ID` as its correlation id (a new one when it is missing or not a
valid id; foundation/correlation.py), so every log line of the request carries it, and the answer echoes it.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import TypeVar

from flask import Flask, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from demoshop.config import Settings
from demoshop.db import Database
from demoshop.errors import ApiError
from demoshop.idempotency import run_mutation
from demoshop.validation import contains_nul
from foundation import correlation

log = logging.getLogger("demoshop.access")
M = TypeVar("M", bound=BaseModel)


def create_app(settings: Settings, db: Database) -> Flask:
    """Build the WSGI app over an initialised database."""
    from demoshop import metrics, openapi
    from demoshop.api import crm, helpdesk, orders, payments, returns

    app = Flask("demoshop")
    app.config["SETTINGS"] = settings
    app.config["DB"] = db
    app.json.sort_keys = False
    for blueprint in (crm.bp, orders.bp, returns.bp, payments.bp, helpdesk.bp, openapi.bp):
        app.register_blueprint(blueprint)
    metrics.instrument(app)  # first: its clock starts before authentication and the fault delay

    @app.before_request
    def _correlate():
        g.correlation_token = correlation.set(correlation.accept(request.headers.get(correlation.HEADER)))

    @app.teardown_request
    def _end_correlation(_error):
        token = g.pop("correlation_token", None)
        if token is not None:  # waitress reuses its threads: the next request must not inherit this id
            correlation.reset(token)

    @app.before_request
    def _authenticate_and_delay():
        g.started = time.perf_counter()
        if not request.path.startswith("/v1/"):
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), settings.api_key.encode()):
            raise ApiError(401, "unauthorized", "Missing or wrong API key (Authorization: Bearer <key>).")
        if contains_nul(request.path) or contains_nul(list(request.args.items(multi=True))):
            raise ApiError(400, "invalid_character", "The URL contains a NUL character.")
        if settings.fault_delay_ms:
            time.sleep(settings.fault_delay_ms / 1000)
        return None

    @app.after_request
    def _log(response):
        response.headers[correlation.HEADER] = correlation.get() or ""
        started = g.get("started")
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            },
        )
        return response

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return jsonify(err.body()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        return jsonify({"error": {"code": code, "message": err.description}}), err.code

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return jsonify({"error": {"code": "internal_error", "message": "Something went wrong on our side."}}), 500

    @app.get("/health")
    def health():
        try:
            db.ping()
        except Exception as exc:  # the database is the only dependency; say so instead of crashing
            return jsonify({"status": "unavailable", "database": str(exc.__class__.__name__)}), 503
        return jsonify({"status": "ok", "database": "ok", "systems": ["crm", "orders", "payments", "helpdesk"]})

    return app


def database() -> Database:
    from flask import current_app

    return current_app.config["DB"]


def parse_body(model: type[M]) -> M:
    """Validate the JSON body against a pydantic model, or answer 400/422 with what is wrong."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # `[[[...]]]` deeper than the JSON parser goes: refused, not a server error
        raise ApiError(400, "invalid_json", "The request body is nested too deeply.") from None
    if data is None:
        if request.get_data():
            raise ApiError(400, "invalid_json", "The request body is not valid JSON.")
        data = {}
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    if contains_nul(data):
        raise ApiError(400, "invalid_character", "The request body contains a NUL character.")
    try:
        return model.parse_obj(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "validation_failed", "The request has invalid fields.", details) from None


def mutation(payload: BaseModel | dict, action):
    """Answer a POST/PUT/PATCH through the idempotency store, in one transaction."""
    data = payload.dict() if isinstance(payload, BaseModel) else payload
    status, body, replayed = run_mutation(
        database(), request.headers.get("Idempotency-Key"), f"{request.method} {request.path}", data, action
    )
    response = jsonify(body)
    response.status_code = status
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
