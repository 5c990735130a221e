"""With the action server unreachable, the shopper hears that something went wrong and is offered a person.

Rasa's `RemoteAction.run` turns a refused connection, a dropped one, a timeout or a non-200 answer of the action
server into an exception; `MessageProcessor._run_action` logs it and drops the action's events, so the shopper's
turn ends in silence. `answer_when_action_server_fails` (one of the runtime's patches, `RASA_PATCH_ACTION_OUTAGE`)
wraps `RemoteAction.run`: on those failures the action's events become the domain's `utter_something_went_wrong`
and `utter_offer_colleague`, with the `pending` slot set to `handoff` (a yes asks for a person, as after a backend
outage in actions/base.py). A second failing action in the same turn adds nothing: the shopper hears it once.

Unchanged: a successful call, and an `ActionExecutionRejection` (the action server's 400 asking Rasa to predict
another action).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger("rasa_runtime.action_server_outage")

APOLOGY = "utter_something_went_wrong"
OFFER = "utter_offer_colleague"
HANDOFF_REASON = "the assistant's action server was unreachable"


def _apologised_this_turn(tracker: Any) -> bool:
    """True when a bot message of this turn (since the shopper's last message) already carried the apology."""
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.metadata.get("utter_action") == APOLOGY:
            return True
    return False


async def apology_events(action_name: str, output_channel: Any, nlg: Any, tracker: Any) -> list:
    """The events a failed custom action leaves: the apology, the offer of a person, `pending` = handoff."""
    from rasa.core.actions.action import create_bot_utterance
    from rasa.shared.core.events import SlotSet

    if _apologised_this_turn(tracker):
        return []
    events: list = []
    for response in (APOLOGY, OFFER):
        generated = await nlg.generate(response, tracker, output_channel.name())
        if generated:
            generated["utter_action"] = response
            events.append(create_bot_utterance(generated))
    if "pending" in tracker.slots:  # the domain's offer of a person answers to a yes
        events += [SlotSet("pending", "handoff"), SlotSet("handoff_reason", HANDOFF_REASON)]
    return events


def answer_when_action_server_fails() -> None:
    """Wrap `RemoteAction.run` so an unreachable or failing action server yields an apology, not silence."""
    import aiohttp
    import rasa.core.actions.action as action
    from jsonschema import ValidationError
    from rasa.shared.exceptions import RasaException

    original = action.RemoteAction.run
    if hasattr(original, "__wrapped__"):
        return
    failures = (RasaException, aiohttp.ClientError, asyncio.TimeoutError, ValidationError)

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list:
        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except action.ActionExecutionRejection:
            raise
        except failures as error:
            logger.error(
                "custom action %s failed on the action server (%s: %s); the shopper gets %s and the offer of a person",
                self.name(),
                type(error).__name__,
                error,
                APOLOGY,
                extra={"action": self.name(), "error_type": type(error).__name__},
            )
            return await apology_events(self.name(), output_channel, nlg, tracker)

    run.__wrapped__ = original  # type: ignore[attr-defined]
    action.RemoteAction.run = run
