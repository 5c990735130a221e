"""How old a shopper's verification may be for a change: older than `VERIFICATION_MAX_AGE_FOR_CHANGES`, a
refund, cancellation, return, address or contact change first asks them to prove who they are again.

Reading an order's status needs only the verification of this session (Rasa ends a session after the idle
time in domain.yml's `session_config`, and no slot, the identity included, is carried over). A change is what
a stranger at an unlocked laptop would want, so it also needs a recent one. The slot `verified_at` holds when
the shopper was last verified (a code typed, or a channel's signed customer token).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field
from rasa_sdk.events import FollowupAction, SlotSet

from actions.base import Turn
from foundation.settings import ProcessSettings

SLOT = "verified_at"
FORM = "service_form"
# What a new verification starts from: no identity, no email, no code, no half-finished check.
FORGOTTEN = ("customer_id", SLOT, "login_email", "verification_code", "verification", "requested_slot")


class VerificationAgeSettings(ProcessSettings):
    """The age (seconds) after which a verified shopper must verify again before a change."""

    max_age_for_changes: int = Field(900, ge=1, env="VERIFICATION_MAX_AGE_FOR_CHANGES")


def verified_now() -> SlotSet:
    """The event that records a verification made in this turn."""
    return SlotSet(SLOT, time.time())


def fresh_enough_for_a_change(turn: Turn, *, now: float | None = None) -> bool:
    """Whether the shopper was verified recently enough to change something."""
    verified_at = turn.slot(SLOT)
    if not isinstance(verified_at, (int, float)):
        return False
    age = (time.time() if now is None else now) - verified_at
    return 0 <= age <= VerificationAgeSettings.current().max_age_for_changes


def verify_again(turn: Turn) -> list[dict[str, Any]]:
    """Say why, forget the old verification and run the service form again: once it has verified the shopper,
    the goal's action runs again and proposes the change afresh."""
    turn.say(response="utter_verify_again_for_change")
    return [*(SlotSet(name, None) for name in FORGOTTEN), FollowupAction(FORM)]
