"""The action server's one hook into the audit trail: `audited` runs a confirmed change (an executor of
actions/confirmation.py) and writes one record of it.

The executor's mutating backend calls (those with an idempotency key) are watched through `Turn.call`, so any
executor, a new one included, is recorded without changing it: the idempotency key, and the outcome from what the
backend answered (`Conflict` or `InvalidRequest`: refused; any other backend error: failed; an answer: succeeded).

While the audit store does not answer no change is made: the shopper is told and offered a person. A store that
fails after the change was made cannot undo it, so that record goes to the local spool and is appended first
the next time the store takes one (docs/security.md, Audit trail).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from actions.backends import BackendError, Conflict, InvalidRequest
from actions.base import Turn, offer_handoff
from audit.changes import fields_of
from audit.records import Change
from audit.trail import current_trail

log = logging.getLogger("audit")
Executor = Callable[[Turn, dict[str, Any]], Awaitable[list[dict[str, Any]]]]
# A backend call that carries this keyword changes something (the v1 contract: every mutation has one).
MUTATION_KEYWORD = "idempotency_key"
REFUSALS = (Conflict, InvalidRequest)


@dataclass
class MutationCall:
    """One mutating backend call of an executor, and what came of it."""

    name: str
    idempotency_key: str | None
    result: Any = None
    error: BackendError | None = None


@contextmanager
def watching_mutations(turn: Turn) -> Iterator[list[MutationCall]]:
    """The mutating calls `turn` makes inside the block, in order (`Turn.call` is wrapped for the block only)."""
    calls: list[MutationCall] = []
    call = turn.call

    async def watched(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if MUTATION_KEYWORD not in kwargs:
            return await call(fn, *args, **kwargs)
        seen = MutationCall(getattr(fn, "__name__", repr(fn)), kwargs[MUTATION_KEYWORD])
        calls.append(seen)
        try:
            seen.result = await call(fn, *args, **kwargs)
        except BackendError as error:
            seen.error = error
            raise
        return seen.result

    vars(turn)["call"] = watched
    try:
        yield calls
    finally:
        vars(turn).pop("call", None)


def channel_of(turn: Turn) -> str | None:
    """The channel of the shopper's latest message (Rasa's input_channel), else the conversation id's namespace."""
    latest = turn.tracker.latest_message or {}
    channel = turn.tracker.get_latest_input_channel() or latest.get("input_channel")
    if channel:
        return str(channel)
    namespace, colon, _ = str(turn.tracker.sender_id).partition(":")
    return namespace if colon else None


def outcome_of(calls: list[MutationCall]) -> tuple[str, MutationCall | None]:
    """succeeded, refused or failed, and the call that decided it (the first that did not succeed, else the last)."""
    for seen in calls:
        if isinstance(seen.error, REFUSALS):
            return "refused", seen
        if seen.error is not None:
            return "failed", seen
    return "succeeded", calls[-1]


def error_fields(error: BackendError) -> dict[str, Any]:
    """A refusal or failure as `after` holds it: the project's JSON error shape."""
    return {"error": {"code": error.code or type(error).__name__, "message": error.message}}


async def audited(executor: Executor, turn: Turn, operation: dict[str, Any]) -> list[dict[str, Any]]:
    """Run `executor` on the confirmed `operation` and append one audit record of what it changed.

    Returns the executor's events; a backend error it raises is recorded (failed) and raised on. With the audit
    store down nothing is changed: the shopper is told so and offered a person.
    """
    op = str(operation.get("op", ""))
    trail = current_trail()
    if not await asyncio.to_thread(trail.ready):
        log.error("audit store unavailable: change refused", extra={"what": op, "conversation": turn.conversation})
        turn.say(response="utter_change_not_recorded")
        return offer_handoff(turn, "audit_unavailable")
    fields = fields_of(op)
    try:
        before = await fields.before(turn, operation)
    except BackendError:  # the change itself will meet the same system, and is recorded with what it says
        before = None
    with watching_mutations(turn) as calls:
        try:
            events = await executor(turn, operation)
        finally:
            if calls:
                await asyncio.to_thread(trail.record, change_of(turn, op, operation, before, calls))
    return events


def change_of(
    turn: Turn, op: str, operation: dict[str, Any], before: dict[str, Any] | None, calls: list[MutationCall]
) -> Change:
    """The audit record of an executor's run: who, what, before and after, the idempotency key, the outcome."""
    outcome, deciding = outcome_of(calls)
    if deciding is not None and deciding.error is not None:
        after: dict[str, Any] | None = error_fields(deciding.error)
    else:
        after = fields_of(op).after(operation, deciding.result if deciding else None)
    return Change(
        customer_id=turn.customer_id,
        channel=channel_of(turn),
        conversation=turn.conversation,
        what=op,
        before=before,
        after=after,
        idempotency_key=calls[0].idempotency_key,
        outcome=outcome,
    )
