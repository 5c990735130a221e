"""Proving who the shopper is in chat: the CRM sends a one-time code to the email on their account and the
shopper types it back. The answers are the same for a known and an unknown email, so the chat reveals nobody's
account; an expired code is replaced by a new one; three wrong codes stop the check. No more codes are sent to
one address, or to one customer, than the abuse limits allow (`RATE_LIMIT_CODES_PER_*`, foundation/rate_limits.py):
over them the shopper is told when to try again, and the check stops until then.

The state of a check is the `verification` slot's value, which only this module reads or builds. A failing
CRM raises `BackendError` to the caller, whose `Turn.backend_calls` answers it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from actions.base import Turn
from foundation.rate_limits import Check, RateLimitSettings, process_limiter

MAX_CODE_ATTEMPTS = 3
LOCKED = {"failed": True, "reason": "locked"}
CODE_LIMIT = "code_limit"


def has_failed(state: dict[str, Any] | None) -> bool:
    """The check was stopped: three wrong codes (no more codes in this conversation), or, until its `retry_at`,
    too many codes sent; a person is offered."""
    state = state or {}
    retry_at = state.get("retry_at")
    return bool(state.get("failed")) and (retry_at is None or time.time() < float(retry_at))


def refused_for_now(state: dict[str, Any] | None) -> bool:
    """No code was sent because of the abuse limits: the shopper may start again once `has_failed` is over."""
    return (state or {}).get("reason") == CODE_LIMIT


async def code_refused(turn: Turn, address: str | None, customer_id: str | None) -> dict[str, Any] | None:
    """Count one code to `address` and to `customer_id` against the abuse limits; over them, say when to try again.

    The address is counted whether or not it is a customer's, so that the answers still tell nobody whether it
    is. Returns None when the code may be sent; otherwise the fields that stop the check until `retry_at`.
    """
    settings = RateLimitSettings.current()
    if not settings.enabled:
        return None
    checks = []
    if address:
        checks.append(Check(settings.codes_per_address, "code-address", address.strip().lower()))
    if customer_id:
        checks.append(Check(settings.codes_per_customer, "code-customer", customer_id))
    wait = await process_limiter(settings).acquire_async(*checks)
    if wait is None:
        return None
    minutes = math.ceil(wait / 60)
    if minutes <= 1:
        turn.say(response="utter_code_limit_one_minute")
    elif minutes <= 90:
        turn.say(response="utter_code_limit_minutes", minutes=minutes)
    else:
        turn.say(response="utter_code_limit_hours", hours=round(minutes / 60))
    return {"failed": True, "reason": CODE_LIMIT, "retry_at": time.time() + wait}


async def start_check(turn: Turn, email: str) -> dict[str, Any]:
    """Send a code to `email` if it is a customer's, and say so in words that do not tell whether it is.

    Returns the new check's state; for an unknown email it has no customer, so every code will be wrong.
    """
    state: dict[str, Any] = {"customer_id": None, "verification_id": None, "attempts": 0}
    customer = await turn.call(turn.clients.crm.find_by_email, email)
    refused = await code_refused(turn, email, customer.id if customer is not None else None)
    if refused is not None:
        return {**state, **refused}
    if customer is not None:
        started = await turn.call(
            turn.clients.crm.start_verification,
            customer.id,
            idempotency_key=turn.key("verify", email, len(turn.tracker.events)),
        )
        state.update(customer_id=customer.id, verification_id=started.verification_id)
    turn.say(response="utter_code_sent", email=email)
    return state


@dataclass(frozen=True)
class CodeCheck:
    """What a typed code led to: the check's new state, and the customer when the code was right."""

    state: dict[str, Any]
    customer_id: str | None = None


async def check_code(turn: Turn, state: dict[str, Any], code: str) -> CodeCheck:
    """Check a 6-digit code against the check in `state`, and tell the shopper how it went.

    Right: verified. Expired: a new code is sent and the count starts again. Wrong: the tries left, and after
    the third the check is stopped. An unknown email's check counts its wrong codes here, the same way.
    """
    state = {**state, "attempts": int(state.get("attempts", 0)) + 1}
    result = None
    if state.get("customer_id"):
        result = await turn.call(
            turn.clients.crm.check_verification,
            state["customer_id"],
            state["verification_id"],
            code,
            idempotency_key=turn.key("code", state, code),
        )
    if result is not None and result.verified:
        turn.say(response="utter_verified")
        return CodeCheck({"customer_id": state["customer_id"], "verified": True}, state["customer_id"])
    if result is not None and result.status == "expired":
        return CodeCheck(await restart(turn, state))
    left = result.attempts_left if result is not None else MAX_CODE_ATTEMPTS - state["attempts"]
    if left <= 0 or (result is not None and result.status == "locked"):
        turn.say(response="utter_code_locked")
        return CodeCheck(dict(LOCKED))
    turn.say(response="utter_code_wrong_one_left" if left == 1 else "utter_code_wrong", left=left)
    return CodeCheck(state)


async def restart(turn: Turn, state: dict[str, Any]) -> dict[str, Any]:
    """The code expired: send a new one to the same customer; the new check starts with no attempts."""
    refused = await code_refused(turn, turn.slot("login_email"), state["customer_id"])
    if refused is not None:
        return {**state, **refused}
    started = await turn.call(
        turn.clients.crm.start_verification, state["customer_id"], idempotency_key=turn.key("verify-again", state)
    )
    turn.say(response="utter_code_expired")
    return {**state, "verification_id": started.verification_id, "attempts": 0}
