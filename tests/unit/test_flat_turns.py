"""rasa_runtime/flat_turns.py gives what Rasa's own functions give, after every event of any conversation.

Generated event sequences (undos of user messages and actions, restarts, sessions, forms that start, are
rejected and stop, hidden rule turns, follow-up actions, featurization switches) are applied to a live tracker
one event at a time, as turns do; after each event the patched functions run on that tracker and Rasa's own run
on a tracker built afresh from the same events. The featurizer's in-place edits of what `past_states` returns
are part of the comparison: it is called through `MaxHistoryTrackerFeaturizer.prediction_states`.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    EntitiesAdded,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from rasa_runtime import flat_turns

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, faq, inform, affirm, deny]
entities: [order_id, email]
slots:
  order_id: {type: text, influence_conversation: true, mappings: [{type: from_entity, entity: order_id}]}
  goal: {type: categorical, values: [status, refund], influence_conversation: true, mappings: [{type: custom}]}
  verified: {type: bool, influence_conversation: true, mappings: [{type: custom}]}
  note: {type: text, influence_conversation: false, mappings: [{type: custom}]}
forms:
  service_form: {required_slots: [order_id]}
responses:
  utter_greet: [{text: hi}]
  utter_faq: [{text: faq}]
actions: [action_lookup]
"""
)
ACTIONS = ["action_listen", "utter_greet", "utter_faq", "action_lookup", "service_form", "action_session_start"]
RULE_ONLY = {"slots": ["verified"], "active_loops": ["service_form"]}


def _user(intent: str, with_entity: bool, use_text: bool | None) -> UserUttered:
    entities = [{"entity": "order_id", "value": "10007", "start": 0, "end": 5}] if with_entity else []
    message = UserUttered(f"text {intent}", {"name": intent, "confidence": 1.0}, entities)
    message.use_text_for_featurization = use_text
    return message


events = st.one_of(
    st.builds(ActionExecuted, st.sampled_from(ACTIONS), hide_rule_turn=st.booleans()),
    st.builds(
        _user, st.sampled_from(["greet", "faq", "inform", "affirm", "deny"]), st.booleans(), st.none() | st.booleans()
    ),
    st.builds(
        SlotSet,
        st.sampled_from(["order_id", "goal", "verified", "note", "requested_slot"]),
        st.sampled_from([None, "10007", "status", "refund", True, False]),
    ),
    st.builds(ActiveLoop, st.sampled_from(["service_form", None])),
    st.builds(BotUttered, st.just("answer")),
    st.builds(FollowupAction, st.sampled_from(ACTIONS[1:5])),
    st.builds(DefinePrevUserUtteredFeaturization, st.booleans()),
    st.builds(EntitiesAdded, st.just([{"entity": "email", "value": "a@b.c"}])),
    st.builds(LoopInterrupted, st.booleans()),
    st.builds(ActionExecutionRejected, st.sampled_from(["service_form", "action_lookup"])),
    st.sampled_from(["revert_user", "revert_action", "restart", "session", "reset"]).map(
        lambda kind: {
            "revert_user": UserUtteranceReverted,
            "revert_action": ActionReverted,
            "restart": Restarted,
            "session": SessionStarted,
            "reset": AllSlotsReset,
        }[kind]()
    ),
)


@pytest.fixture(autouse=True, scope="module")
def patched():
    flat_turns.keep_turns_flat()
    yield
    flat_turns.undo()


def _live() -> DialogueStateTracker:
    tracker = DialogueStateTracker("conversation", DOMAIN.slots)
    tracker.__dict__[flat_turns.LIVE] = True
    return tracker


def _fresh(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A tracker Rasa builds from the same events, which the patches leave to Rasa's own code."""
    return DialogueStateTracker.from_events(tracker.sender_id, list(tracker.events), DOMAIN.slots)


def _predictions(tracker: DialogueStateTracker, featurizer: MaxHistoryTrackerFeaturizer) -> list[Any]:
    """What policies get from the featurizer, for every combination of its arguments (Rasa's featurizer fails
    on a history whose every turn is hidden: then the failure is what they get)."""
    results: list[Any] = []
    for use_text in (False, True):
        for ignore in (False, True):
            try:
                results.append(
                    featurizer.prediction_states(
                        [tracker],
                        DOMAIN,
                        use_text_for_last_user_input=use_text,
                        ignore_rule_only_turns=ignore,
                        rule_only_data=RULE_ONLY if ignore else None,
                    )
                )
            except IndexError as error:
                results.append(repr(error))
    return results


def _state_of(tracker: DialogueStateTracker) -> dict[str, Any]:
    return {
        "events": tracker.current_state(EventVerbosity.ALL),
        "slots": {name: slot.value for name, slot in tracker.slots.items()},
        "followup": tracker.followup_action,
        "loop": tracker.active_loop,
        "latest_action": tracker.latest_action,
        "paused": tracker._paused,
        "latest_message": _without_time(tracker.latest_message),
        "latest_bot_utterance": _without_time(tracker.latest_bot_utterance),
    }


def _without_time(event: Any) -> Any:
    """An event's content; the empty message a tracker starts with is made when the tracker is."""
    return {key: value for key, value in event.as_dict().items() if key != "timestamp"} if event else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events, min_size=1, max_size=45))
def test_every_patched_walk_equals_rasas_after_each_event(sequence):
    live = _live()
    all_history, short_history = (
        MaxHistoryTrackerFeaturizer(max_history=None),
        MaxHistoryTrackerFeaturizer(max_history=5),
    )
    for event in sequence:
        live.update(event)
        fresh = _fresh(live)
        assert live.applied_events() == fresh.applied_events()
        assert all(a is b for a, b in zip(live.applied_events(), fresh.applied_events(), strict=False))
        for featurizer in (all_history, short_history):
            assert _predictions(live, featurizer) == _predictions(fresh, featurizer)
        copied = live.copy()
        assert _state_of(copied) == _state_of(fresh.copy())
        # A copy shares nothing the action it is made for could change.
        copied.update(SlotSet("goal", "refund"))
        copied.update(ActiveLoop("service_form"))
        assert _state_of(live.copy()) == _state_of(fresh.copy())
        assert _state_of(live) == _state_of(fresh)


@settings(max_examples=60, deadline=None)
@given(st.lists(events, min_size=2, max_size=30), st.data())
def test_a_window_of_states_is_the_end_of_the_whole_history(sequence, data):
    live = _live()
    for event in sequence:
        live.update(event)
    window = data.draw(st.integers(min_value=1, max_value=8))
    whole = _fresh(live).past_states(DOMAIN)
    rule_turns = _fresh(live).past_states(DOMAIN, ignore_rule_only_turns=True, rule_only_data=RULE_ONLY)
    token = flat_turns._WINDOW.set((window, False))
    try:
        assert live.past_states(DOMAIN)[-window:] == whole[-window:]
        assert len(live.past_states(DOMAIN)) <= window + 1
        rule_window = live.past_states(DOMAIN, ignore_rule_only_turns=True, rule_only_data=RULE_ONLY)
        assert rule_window[-window:] == rule_turns[-window:]
    finally:
        flat_turns._WINDOW.reset(token)


def test_only_live_conversations_keep_what_they_walked():
    trained_on = DialogueStateTracker.from_events(
        "story", [ActionExecuted("action_listen"), _user("greet", False, None)], DOMAIN.slots
    )
    trained_on.past_states(DOMAIN)
    trained_on.copy()
    assert not set(vars(trained_on)) & {flat_turns.APPLIED_MEMO, flat_turns.STATES_MEMO, flat_turns.COPY_MEMO}
    live = _live()
    live.update(ActionExecuted("action_listen"))
    live.past_states(DOMAIN)
    live.copy()
    assert {flat_turns.APPLIED_MEMO, flat_turns.STATES_MEMO, flat_turns.COPY_MEMO} <= set(vars(live))
    assert not set(vars(live.copy())) & {flat_turns.APPLIED_MEMO, flat_turns.STATES_MEMO, flat_turns.COPY_MEMO}


def test_a_later_walk_starts_where_the_last_one_stopped():
    live = _live()
    for _turn in range(50):
        for event in (
            ActionExecuted("action_listen"),
            _user("faq", False, False),
            ActionExecuted("utter_faq"),
            BotUttered("a"),
        ):
            live.update(event)
        live.past_states(DOMAIN)
    memo = live.__dict__[flat_turns.STATES_MEMO]
    (kept,) = memo.values()
    assert kept.count == len(live.applied_events()) == 200
    replayed_events = len(kept.replayed.events)
    live.update(ActionExecuted("action_listen"))
    live.past_states(DOMAIN)
    assert len(kept.replayed.events) == replayed_events + 1  # one event replayed, not 201


def test_undo_reaching_back_computes_from_the_start_and_still_agrees():
    live = _live()
    for event in (ActionExecuted("action_listen"), _user("greet", False, False), ActionExecuted("utter_greet")):
        live.update(event)
    live.past_states(DOMAIN)
    live.update(UserUtteranceReverted())
    assert live.past_states(DOMAIN) == _fresh(live).past_states(DOMAIN)
    live.update(ActiveLoop("service_form"))  # a form seen for the first time rereads earlier events
    assert live.applied_events() == _fresh(live).applied_events()
