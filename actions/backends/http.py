"""The one resilient HTTP core every backend call goes through.

Timeouts on connect and read; bounded retries with exponential backoff and jitter (tenacity) for
requests that are safe to repeat; a circuit breaker per system (pybreaker) so a dead system fails
fast; a latency histogram, an error counter and a JSON log line per call with the message's correlation id,
which it forwards as `X-Request-ID` (foundation/correlation.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import pybreaker
import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from actions.backends.errors import (
    BackendError,
    CircuitOpen,
    Conflict,
    InvalidRequest,
    NotFound,
    Unauthorized,
    Unavailable,
)
from actions.backends.metrics import (
    BACKEND_ERRORS,
    BACKEND_LATENCY,
    BACKEND_RETRIES,
    BREAKER_STATE,
    BREAKER_STATE_VALUES,
)
from actions.backends.request_context import current_request_id
from actions.backends.settings import SystemSettings

log = logging.getLogger("actions.backends")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Answers that prove the system is up: they must not open the breaker.
BUSINESS_ERRORS = (NotFound, Unauthorized, Conflict, InvalidRequest)

_breakers: dict[tuple[str, str], pybreaker.CircuitBreaker] = {}
_breakers_lock = threading.Lock()


class _BreakerMetrics(pybreaker.CircuitBreakerListener):
    def __init__(self, system: str):
        self.system = system

    def state_change(self, cb, old_state, new_state) -> None:
        name = new_state.name if new_state else "closed"
        BREAKER_STATE.labels(self.system).set(BREAKER_STATE_VALUES.get(name, 0))
        log.warning(
            "circuit breaker state changed",
            extra={"system": self.system, "from_state": old_state.name if old_state else None, "to_state": name},
        )


def breaker_for(settings: SystemSettings) -> pybreaker.CircuitBreaker:
    """The process-wide breaker of one system at one address, shared by all its clients."""
    key = (settings.system, settings.base_url)
    with _breakers_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = pybreaker.CircuitBreaker(
                fail_max=settings.breaker_fail_max,
                reset_timeout=settings.breaker_reset_seconds,
                exclude=list(BUSINESS_ERRORS),
                listeners=[_BreakerMetrics(settings.system)],
                name=settings.system,
                throw_new_error_on_trip=False,
            )
            BREAKER_STATE.labels(settings.system).set(0)
            _breakers[key] = breaker
        return breaker


class HttpCore:
    """JSON over HTTP to one retailer system, with every safeguard a production call needs."""

    def __init__(self, settings: SystemSettings, session: requests.Session | None = None):
        self.settings = settings
        self.system = settings.system
        self.breaker = breaker_for(settings)
        self._session = session or requests.Session()

    def request(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Call the system and return its decoded JSON, or raise a typed `BackendError`.

        `operation` names the call for metrics and logs (a fixed name such as "get_order", never an
        id). Retries happen only when repeating cannot act twice: safe methods, or a mutation that
        carries an idempotency key.
        """
        method = method.upper()
        request_id = current_request_id()
        headers = {
            "Authorization": f"Bearer {self.settings.api_key}",
            "Accept": "application/json",
            "X-Request-ID": request_id,
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        url = f"{self.settings.base_url}{path}"
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                BACKEND_RETRIES.labels(self.system).inc()
            try:
                return self.breaker.call(self._send_once, method, url, params, json, headers)
            except pybreaker.CircuitBreakerError:
                raise CircuitOpen(self.system, "circuit open: failing fast", code="circuit_open") from None

        retryable = method in SAFE_METHODS or idempotency_key is not None
        started = time.perf_counter()
        outcome, status = "ok", None
        try:
            if retryable and self.settings.max_attempts > 1:
                retrying = Retrying(
                    stop=stop_after_attempt(self.settings.max_attempts),
                    wait=wait_exponential_jitter(initial=self.settings.backoff_initial, max=self.settings.backoff_max),
                    retry=retry_if_exception(lambda e: isinstance(e, Unavailable) and not isinstance(e, CircuitOpen)),
                    reraise=True,
                )
                return retrying(attempt)
            return attempt()
        except BackendError as err:
            outcome, status = _outcome(err), err.status
            BACKEND_ERRORS.labels(self.system, outcome).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            BACKEND_LATENCY.labels(self.system, operation, outcome).observe(elapsed)
            log.log(
                logging.INFO if outcome in ("ok", "not_found", "conflict") else logging.WARNING,
                "backend call",
                extra={
                    "system": self.system,
                    "operation": operation,
                    "method": method,
                    "path": path,
                    "outcome": outcome,
                    "status": status if outcome != "ok" else 200,
                    "attempts": attempts,
                    "duration_ms": round(elapsed * 1000, 1),
                    "correlation_id": request_id,  # also for a lone call, outside any message
                    "breaker": self.breaker.current_state,
                },
            )

    def _send_once(self, method: str, url: str, params, body, headers) -> Any:
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        try:
            response = self._session.request(method, url, params=params, json=body, headers=headers, timeout=timeout)
        except requests.Timeout:
            raise Unavailable(self.system, f"no answer within {timeout[1]}s", code="timeout") from None
        except requests.ConnectionError:
            raise Unavailable(self.system, "cannot connect", code="connection_error") from None
        except requests.RequestException as exc:
            raise Unavailable(self.system, f"request failed: {exc.__class__.__name__}", code="request_error") from None
        return _decode(self.system, response)


def _decode(system: str, response: requests.Response) -> Any:
    status = response.status_code
    if 200 <= status < 300:
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise Unavailable(
                system, "answered with something that is not JSON", status=status, code="bad_response"
            ) from None
    code, message = _error_fields(response)
    kind = {
        401: Unauthorized,
        403: Unauthorized,
        404: NotFound,
        409: Conflict,
        400: InvalidRequest,
        422: InvalidRequest,
    }
    if status in kind:
        raise kind[status](system, message, status=status, code=code)
    if status == 429 or status >= 500:
        raise Unavailable(system, message, status=status, code=code or "server_error")
    raise InvalidRequest(system, message, status=status, code=code)


def _error_fields(response: requests.Response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error", {})
        return error.get("code"), error.get("message") or f"HTTP {response.status_code}"
    except (ValueError, AttributeError):
        return None, f"HTTP {response.status_code}"


def _outcome(err: BackendError) -> str:
    for kind, name in (
        (CircuitOpen, "circuit_open"),
        (NotFound, "not_found"),
        (Unauthorized, "unauthorized"),
        (Conflict, "conflict"),
        (InvalidRequest, "invalid_request"),
    ):
        if isinstance(err, kind):
            return name
    return err.code if err.code in ("timeout", "connection_error", "bad_response") else "unavailable"
