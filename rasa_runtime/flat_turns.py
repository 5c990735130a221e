"""A turn's cost that does not grow with the conversation: Rasa's per-turn walks over the whole history, made
incremental.

The policies look at the last few states (`max_history` 5, rules of a few turns), yet on every prediction
Rasa 3.6 rebuilds the state of every earlier turn from the first event: `DialogueStateTracker.past_states`
replays all applied events into a fresh tracker and computes a state at each action (about five times a turn:
the rule policy asks twice per prediction, memoization once), `applied_events` scans every event several times
a turn, the rule policy compares each rule against every state back to the first, and it formats and copies
the whole history into a debug line that is then thrown away. Each is linear in the session's length, so the
300th turn of a long chat cost several times the 10th (docs/performance.md).

This keeps Rasa's results and removes the re-walks:

- `applied_events` and `past_states` keep, on the tracker object, how far they got: the applied events so far,
  and the replayed tracker with the states computed up to the last event. A call continues from there when the
  tracker only gained events since (the event at the remembered position is the very same object); anything
  else (an undo that reaches back, a restart, a new form name, a different domain or argument) computes from the
  first event as Rasa does. The tracker store hands the same tracker object to the next turn
  (conversation_stores/tracker_store.py), so the work carries over between turns, not only within one.
- The state of the last position is computed afresh on every call (the latest user message's featurization
  changes during a turn), and the list a call returns is new, with its last state a copy (Rasa's featurizer edits
  that one in place).
- `RulePolicy._get_possible_keys` stops comparing once the history is longer than the longest rule: every rule
  applies to a turn further back than its own length, so the remaining comparisons cannot remove a rule.
- The rule policy's debug line formats the states only when a debug line is written.
- When no rule matches, the rule policy names the prediction after all the conversation's states (a JSON
  dump) only to look that name up among the rules that stories lack; a history longer than every such rule
  cannot be among them, so at prediction time it gets a short name that is not, with the same outcome.

`tests/unit/test_flat_turns.py` compares every patched function with Rasa's on generated event sequences
(undos, restarts, forms, hidden rule turns) after each event; `make bench-serve` measures the long
conversation.
"""

from __future__ import annotations

import contextvars
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

APPLIED_MEMO = "_flat_turns_applied"
STATES_MEMO = "_flat_turns_states"
COPY_MEMO = "_flat_turns_copy"
LONGEST_RULE = "_flat_turns_longest_rule"
LIVE = "_flat_turns_live"  # set on the trackers of live conversations (not on training data)
# While a policy predicts: how many of the latest states it reads, and whether its featurizer drops
# `action_unlikely_intent` states before counting (None: all states, as everywhere else).
_WINDOW: contextvars.ContextVar[tuple[int, bool] | None] = contextvars.ContextVar("states_window", default=None)


@dataclass
class _AppliedSoFar:
    """What `applied_events` had found after the first `count` events of one tracker's event deque."""

    events: Any  # the tracker's deque these positions refer to
    count: int
    last: Any  # the event at position count - 1 (the same object, or the memo is stale)
    loop_names: frozenset[str]
    applied: list[Any]


@dataclass
class _StatesSoFar:
    """The states `past_states` computed for the first `count` applied events, and how it would go on."""

    domain: Any
    replayed: Any  # a tracker that has applied those events
    count: int = 0
    last: Any = None  # the applied event at position count - 1
    states: list[Any] = field(default_factory=list)
    last_ml_action: Any = None
    turn_was_hidden: bool = False
    action_since_user: bool = False  # a state was computed after the latest user message


def _events_from(events: Any, start: int) -> list[Any]:
    """The events of a deque from `start` on (indexing a deque near its end is cheap; islice walks from the left)."""
    return [events[index] for index in range(start, len(events))]


def _fold_applied(tracker: Any, events: list[Any], applied: list[Any], loop_names: frozenset[str]) -> None:
    """The body of Rasa's `DialogueStateTracker.applied_events`, over `events`, continuing `applied` in place."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


def _loop_names(events: list[Any]) -> frozenset[str]:
    from rasa.shared.core.events import ActiveLoop

    return frozenset(event.name for event in events if isinstance(event, ActiveLoop) and event.name)


def incremental_applied_events(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """`DialogueStateTracker.applied_events`, continuing from the events it had already seen."""

    def applied_events(self: Any) -> list[Any]:
        events = self.events
        if not self.__dict__.get(LIVE) or events.maxlen is not None:  # maxlen: old events fall off, positions move
            return original(self)
        memo: _AppliedSoFar | None = self.__dict__.get(APPLIED_MEMO)
        if (
            memo is not None
            and memo.events is events
            and memo.count <= len(events)
            and (memo.count == 0 or events[memo.count - 1] is memo.last)
        ):
            new = _events_from(events, memo.count)
            if _loop_names(new) <= memo.loop_names:
                applied, loop_names = memo.applied, memo.loop_names
            else:  # a form seen for the first time changes how earlier events read: start over
                new, applied, loop_names = list(events), [], _loop_names(list(events))
        else:
            new = list(events)
            applied, loop_names = [], _loop_names(new)
        _fold_applied(self, new, applied, loop_names)
        last = events[len(events) - 1] if events else None
        self.__dict__[APPLIED_MEMO] = _AppliedSoFar(events, len(events), last, loop_names, applied)
        return list(applied)

    applied_events.__wrapped__ = original  # type: ignore[attr-defined]
    return applied_events


def _frozen(value: Any) -> Any:
    """A hashable stand-in for `rule_only_data` (a dict of lists)."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_frozen(item) for item in value)
    return value


def _state_at(
    domain: Any,
    replayed: Any,
    hide_rule_turn: bool,
    memo: _StatesSoFar,
    states: list[Any],
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
    rule_only_data: Any,
) -> None:
    """One step of Rasa's `Domain.states_for_tracker_history`: the state before one action, into `states`."""
    from rasa.shared.core.constants import PREVIOUS_ACTION

    if ignore_rule_only_turns:
        if not memo.turn_was_hidden:
            memo.last_ml_action = domain._get_prev_action_sub_state(replayed)
        if not replayed.followup_action and replayed.latest_action_name != replayed.active_loop_name:
            memo.turn_was_hidden = hide_rule_turn
        if memo.turn_was_hidden:
            return
    state = domain.get_active_state(replayed, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if memo.last_ml_action:
            state[PREVIOUS_ACTION] = memo.last_ml_action
    states.append(domain._clean_state(state))


def _is_unlikely_intent_state(state: Any) -> bool:
    from rasa.core.featurizers.tracker_featurizers import _is_prev_action_unlikely_intent_in_state

    return bool(_is_prev_action_unlikely_intent_in_state(state))


def _tail(states: list[Any], window: tuple[int, bool] | None) -> list[Any]:
    """The latest states a caller reads: all without a window; else enough that `count` of them remain once
    the featurizer drops `action_unlikely_intent` states (when it does), before the last position's state."""
    if not window:
        return states
    count, skipping_unlikely = window
    kept: list[Any] = []
    needed = count  # the last position's state may be hidden: then these are all the caller gets
    for state in reversed(states):
        if needed <= 0:
            break
        kept.append(state)
        if not (skipping_unlikely and _is_unlikely_intent_state(state)):
            needed -= 1
    kept.reverse()
    return kept


def _copies(states: list[Any]) -> list[Any]:
    """Copies down to the sub-states (whose values are strings and tuples), so a caller's edits stay its own."""
    return [{kind: dict(sub_state) for kind, sub_state in state.items()} for state in states]


def incremental_past_states(original: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
    """`DialogueStateTracker.past_states`, computing only the states of the events added since the last call."""
    from rasa.shared.core.events import ActionExecuted, DefinePrevUserUtteredFeaturization, EntitiesAdded, UserUttered

    # Events that edit the latest user message in place, which the states since that message were read from.
    CHANGE_THE_LATEST_MESSAGE = (DefinePrevUserUtteredFeaturization, EntitiesAdded)

    def past_states(
        self: Any,
        domain: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[Any]:
        if not self.__dict__.get(LIVE) or self.events.maxlen is not None:
            return original(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        applied = self.applied_events()
        memos: dict[Any, _StatesSoFar] = self.__dict__.setdefault(STATES_MEMO, {})
        key = (id(domain), omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
        memo = memos.get(key)
        if (
            memo is None
            or memo.domain is not domain
            or memo.count > len(applied)
            or (memo.count and applied[memo.count - 1] is not memo.last)
        ):
            memo = memos[key] = _StatesSoFar(domain, self.init_copy())
        new = applied[memo.count :]
        if memo.action_since_user and any(isinstance(event, CHANGE_THE_LATEST_MESSAGE) for event in new):
            # It edits a message that states already computed were read from (not how a turn goes): start over.
            memo = memos[key] = _StatesSoFar(domain, self.init_copy())
            new = applied
        arguments = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        replayed = memo.replayed
        for event in new:
            if isinstance(event, ActionExecuted):
                _state_at(domain, replayed, event.hide_rule_turn, memo, memo.states, *arguments)
                memo.action_since_user = True
            elif isinstance(event, UserUttered):
                memo.action_since_user = False
            replayed.update(event)
        memo.count, memo.last = len(applied), (applied[-1] if applied else None)
        # The last position (Rasa's final `yield tracker, False`) on copies: the next call computes it again.
        # The states the caller will read (a window, or all), as copies: featurizers edit states in place.
        states = _copies(_tail(memo.states, _WINDOW.get()))
        ending = _StatesSoFar(
            domain, replayed, last_ml_action=memo.last_ml_action, turn_was_hidden=memo.turn_was_hidden
        )
        # The last position (Rasa's final `yield tracker, False`) is computed afresh: the next call does it again.
        _state_at(domain, replayed, False, ending, states, *arguments)
        return states

    past_states.__wrapped__ = original  # type: ignore[attr-defined]
    return past_states


@dataclass
class _ReplayedSoFar:
    """A private tracker that has applied the first `count` events of one tracker's deque, to clone copies from."""

    events: Any
    replayed: Any
    count: int = 0
    last: Any = None


MEMOS = (APPLIED_MEMO, STATES_MEMO, COPY_MEMO)  # a clone keeps LIVE, not these


def _clone(tracker: Any) -> Any:
    """A tracker in the same state as `tracker` that shares nothing it could change: its own event deque, slots,
    latest action and active loop; the events themselves are shared, as a replay shares them."""
    clone = tracker.__class__.__new__(tracker.__class__)
    clone.__dict__.update({key: value for key, value in tracker.__dict__.items() if key not in MEMOS})
    clone.events = tracker._create_events(list(tracker.events))
    slots = tracker.slots.__class__()
    slots.update({name: copy.copy(slot) for name, slot in tracker.slots.items()})
    clone.slots = slots
    clone.latest_action = dict(tracker.latest_action) if tracker.latest_action is not None else None
    clone.active_loop = copy.copy(tracker.active_loop)
    return clone


def incremental_copy(original: Callable[..., Any]) -> Callable[..., Any]:
    """`DialogueStateTracker.copy` (a replay of every event into a new tracker, before every action Rasa runs):
    the replay continues a private one kept from the last copy, and the copy is a clone of that."""

    def copy_tracker(self: Any) -> Any:
        events = self.events
        if not self.__dict__.get(LIVE) or events.maxlen is not None:
            return original(self)
        memo: _ReplayedSoFar | None = self.__dict__.get(COPY_MEMO)
        if not (
            memo is not None
            and memo.events is events
            and memo.count <= len(events)
            and (memo.count == 0 or events[memo.count - 1] is memo.last)
        ):
            memo = self.__dict__[COPY_MEMO] = _ReplayedSoFar(events, self.init_copy())
        for event in _events_from(events, memo.count):
            memo.replayed.update(event)
        memo.count, memo.last = len(events), (events[len(events) - 1] if events else None)
        return _clone(memo.replayed)

    copy_tracker.__wrapped__ = original  # type: ignore[attr-defined]
    return copy_tracker


def _longest_key(policy: Any, keys: Any) -> int:
    """The most states any key of a rule lookup has; names that are not a JSON list of states count 0."""
    cached = policy.__dict__.setdefault(LONGEST_RULE, {})
    entry = cached.get(id(keys))
    if entry is None or entry[0] is not keys or entry[1] != len(keys):
        longest = 0
        for key in keys:
            try:
                parsed = json.loads(key)
            except (TypeError, ValueError):
                continue
            if isinstance(parsed, list):
                longest = max(longest, len(parsed))
        entry = cached[id(keys)] = (keys, len(keys), longest)
    return int(entry[2])


def rule_window(policy: Any) -> int:
    """How many of the latest states decide a rule policy's prediction: one more than its longest rule.

    A rule applies to any turn further back than its own length, so older states cannot change which rules
    match. When none matches, the policy names the prediction after the states (their JSON) and only looks that
    name up among the rules stories lack; a name of more states than any of those cannot be among them, whether
    it names the whole history or just this window.
    """
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RULES_NOT_IN_STORIES

    lookups = (RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RULES_NOT_IN_STORIES)
    return 1 + max(_longest_key(policy, policy.lookup.get(name, ())) for name in lookups)


def rule_predictions_in_their_window(original: Callable[..., Any]) -> Callable[..., Any]:
    """`RulePolicy.predict_action_probabilities` (live predictions only; training calls `_predict`), reading
    only the latest `rule_window` states of the conversation."""

    def predict_action_probabilities(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _WINDOW.set((rule_window(self), False))
        try:
            return original(self, *args, **kwargs)
        finally:
            _WINDOW.reset(token)

    predict_action_probabilities.__wrapped__ = original  # type: ignore[attr-defined]
    return predict_action_probabilities


def featurizer_reads_its_history(original: Callable[..., Any]) -> Callable[..., Any]:
    """`MaxHistoryTrackerFeaturizer.prediction_states`: a featurizer with a `max_history` keeps only that many
    states (after dropping `action_unlikely_intent` ones when asked), so it is handed only those."""

    def prediction_states(self: Any, trackers: Any, domain: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.max_history:
            return original(self, trackers, domain, *args, **kwargs)
        skipping = bool(kwargs.get("ignore_action_unlikely_intent", args[3] if len(args) > 3 else False))
        token = _WINDOW.set((int(self.max_history), skipping))
        try:
            return original(self, trackers, domain, *args, **kwargs)
        finally:
            _WINDOW.reset(token)

    prediction_states.__wrapped__ = original  # type: ignore[attr-defined]
    return prediction_states


def trackers_of_live_conversations(original: Callable[..., Any]) -> Callable[..., Any]:
    """`MessageProcessor.get_tracker` (every turn, prediction and HTTP call fetches its tracker through it):
    marks the tracker as a live conversation's, whose walks over the history this module continues."""

    async def get_tracker(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracker = await original(self, *args, **kwargs)
        tracker.__dict__[LIVE] = True
        return tracker

    get_tracker.__wrapped__ = original  # type: ignore[attr-defined]
    return get_tracker


PATCHED = (
    ("rasa.shared.core.trackers", "DialogueStateTracker", "applied_events", incremental_applied_events),
    ("rasa.shared.core.trackers", "DialogueStateTracker", "past_states", incremental_past_states),
    ("rasa.shared.core.trackers", "DialogueStateTracker", "copy", incremental_copy),
    ("rasa.core.policies.rule_policy", "RulePolicy", "predict_action_probabilities", rule_predictions_in_their_window),
    (
        "rasa.core.featurizers.tracker_featurizers",
        "MaxHistoryTrackerFeaturizer",
        "prediction_states",
        featurizer_reads_its_history,
    ),
    ("rasa.core.processor", "MessageProcessor", "get_tracker", trackers_of_live_conversations),
)


def _owner(module: str, name: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)


def keep_turns_flat() -> None:
    """Apply every part of this module's fix (idempotent: a second call wraps nothing twice)."""
    for module, owner_name, attribute, wrap in PATCHED:
        owner = _owner(module, owner_name)
        current = owner.__dict__[attribute]
        if not hasattr(current, "__wrapped__"):
            setattr(owner, attribute, wrap(current))


def undo() -> None:
    """Put Rasa's own functions back (the tests compare both)."""
    for module, owner_name, attribute, _ in PATCHED:
        owner = _owner(module, owner_name)
        current = owner.__dict__[attribute]
        if hasattr(current, "__wrapped__"):
            setattr(owner, attribute, current.__wrapped__)
