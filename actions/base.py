"""What every custom action shares: the clients, a request id per run, timing, and one answer for a
backend that is down (`Turn.backend_calls`), so no action, nor the service form, ever surfaces a stack trace
or silence."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from abc import ABCMeta, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import formatting as fmt
from actions.backends import BackendError, NotFound, Unavailable
from actions.backends.models import Order
from actions.backends.request_context import request_id
from actions.clients import Backends, backends
from actions.observability import ACTION_LATENCY, conversation_ref

log = logging.getLogger("actions")
T = TypeVar("T")
# The key of a proposed change (slot `pending_operation`) that holds `Turn.user_turns` when it was asked.
ASKED_AT = "asked_at"
# How each retailer system is named to the shopper ("our order system isn't answering").
SYSTEM_NAMES = {
    "crm": "utter_system_crm",
    "orders": "utter_system_orders",
    "payments": "utter_system_payments",
    "helpdesk": "utter_system_helpdesk",
}


@dataclass
class BackendCalls:
    """One `Turn.backend_calls` block: whether a call in it failed (and the shopper was told)."""

    failed: bool = False


class Turn:
    """One run of an action: the tracker, the dispatcher and the clients, with the helpers actions need."""

    def __init__(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
        clients: Backends | None = None,
        *,
        action: str = "action",
    ):
        self.dispatcher = dispatcher
        self.tracker = tracker
        self.domain = domain
        self.clients = clients or backends()
        self.action = action
        # The backend failure the shopper was told about in this run, and the events of that answer.
        self.outage: BackendError | None = None
        self.outage_events: list[dict[str, Any]] = []

    def slot(self, name: str) -> Any:
        return self.tracker.get_slot(name)

    @property
    def customer_id(self) -> str | None:
        """Set only for a verified shopper."""
        return self.tracker.get_slot("customer_id")

    @property
    def user_turns(self) -> int:
        """How many messages the shopper has sent in this conversation so far, the current one included."""
        return sum(1 for event in self.tracker.events if event.get("event") == "user")

    @property
    def conversation(self) -> str:
        return conversation_ref(self.tracker.sender_id)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a (blocking) client call off the event loop, keeping the request id."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def say(self, text: str | None = None, **kwargs: Any) -> None:
        self.dispatcher.utter_message(text=text, **kwargs)

    def key(self, *parts: Any) -> str:
        """An idempotency key that is the same whenever this conversation repeats this very request."""
        raw = json.dumps([self.tracker.sender_id, *parts], sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:40]

    @asynccontextmanager
    async def backend_calls(self) -> AsyncIterator[BackendCalls]:
        """The one answer to a retailer system that fails, wrapped around the calls that may meet one.

        A `BackendError` raised in the block does not escape: the shopper hears that the system concerned isn't
        answering and is offered a person (once per run, however many calls fail), `outage` and `outage_events`
        record it, the block's `failed` is set, and the code after the block runs. So the caller writes the
        happy path inside the block and what to return without the answer after it.
        """
        block = BackendCalls()
        try:
            yield block
        except BackendError as err:
            block.failed = True
            self._tell_outage(err)

    def _tell_outage(self, err: BackendError) -> None:
        if not isinstance(err, Unavailable):  # 401 or an unexpected 4xx: a configuration or contract problem
            log.error(
                "backend refused a request",
                extra={
                    "action": self.action,
                    "system": err.system,
                    "status": err.status,
                    "code": err.code,
                    "conversation": self.conversation,
                },
            )
        if self.outage is None:
            self.outage = err
            self.outage_events = backend_down(self, err)

    async def owned_order(self, order_id: str | None, customer_id: str | None = None) -> Order | None:
        """The order if it exists and belongs to `customer_id`; None otherwise (and we say nothing more).

        `customer_id` defaults to this turn's verified shopper; the form passes the one it has just verified,
        whose slot is only set by the events it returns.
        """
        owner = customer_id or self.customer_id
        if not order_id or not owner:
            return None
        try:
            order = await self.call(self.clients.orders.get_order, order_id)
        except NotFound:
            return None
        return order if order.customer_id == owner else None


def offer_handoff(turn: Turn, reason: str) -> list[dict[str, Any]]:
    """Ask whether the shopper wants a person; a yes hands off with this reason attached."""
    turn.say(response="utter_offer_colleague")
    return [SlotSet("pending", "handoff"), SlotSet("handoff_reason", reason)]


def order_not_found(turn: Turn, order_id: str | None) -> list[dict[str, Any]]:
    """The same words for an unknown order and somebody else's: reveal nothing."""
    turn.say(response="utter_order_not_found", order_id=order_id)
    return [SlotSet("order_id", None)]


def not_verified(turn: Turn) -> list[dict[str, Any]]:
    """An action that needs a verified shopper, without one: say so and offer a person."""
    turn.say(response="utter_not_verified")
    return offer_handoff(turn, "verification_failed")


class ShopAction(Action, metaclass=ABCMeta):
    """Base of the actions that call backends: thin subclasses implement `act`."""

    action_name: ClassVar[str]
    needs_verified_customer: ClassVar[bool] = True

    def name(self) -> str:
        return self.action_name

    @abstractmethod
    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        """Do the action's work; a backend that fails is answered by `run`, through `Turn.backend_calls`."""

    def after_outage(self, turn: Turn) -> list[dict[str, Any]]:
        """The events once the shopper has been told a system is down: the offer of a person."""
        return turn.outage_events

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]):
        turn = Turn(dispatcher, tracker, domain, action=self.name())
        started, outcome = time.perf_counter(), "ok"
        with request_id(f"{turn.conversation}-{len(tracker.events)}"):
            try:
                if self.needs_verified_customer and not turn.customer_id:
                    outcome = "not_verified"
                    return not_verified(turn)
                async with turn.backend_calls():
                    return await self.act(turn)
                outcome = "backend_unavailable" if isinstance(turn.outage, Unavailable) else "backend_error"
                return self.after_outage(turn)
            finally:
                ACTION_LATENCY.labels(self.name(), outcome).observe(time.perf_counter() - started)


class OrderAction(ShopAction):
    """Base of actions about one of the verified shopper's orders (the `order_id` slot)."""

    async def act(self, turn: Turn) -> list[dict[str, Any]]:
        order = await turn.owned_order(turn.slot("order_id"))
        if order is None:
            return order_not_found(turn, turn.slot("order_id"))
        return await self.act_on(turn, order)

    @abstractmethod
    async def act_on(self, turn: Turn, order: Order) -> list[dict[str, Any]]:
        """Answer about, or propose a change to, this order (it exists and is the shopper's)."""


def backend_down(turn: Turn, err: BackendError) -> list[dict[str, Any]]:
    """Say that the system concerned isn't answering and offer a person (see `Turn.backend_calls`)."""
    system = fmt.phrase(
        turn.domain,
        # A subscript, not .get(): tests/unit/test_action_responses.py reads the names behind `SYSTEM_NAMES[...]`.
        response=SYSTEM_NAMES[err.system] if err.system in SYSTEM_NAMES else "utter_system_other",  # noqa: SIM401
        system=err.system,
    )
    turn.say(response="utter_backend_down", system=system)
    return offer_handoff(turn, f"backend_unavailable:{err.system}")


def form_ended_by_outage(turn: Turn) -> list[dict[str, Any]]:
    """The service form's events once an outage has been told: the offer of a person, the form ended, the turn
    ended. Without the last, Rasa's "once the form is complete" rule would run the goal's action on what was
    half collected, and the shopper would hear the outage twice, or "I couldn't confirm that it's you"."""
    return [*turn.outage_events, SlotSet("requested_slot", None), FollowupAction("action_listen")]
