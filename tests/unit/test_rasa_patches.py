"""The Rasa fixes the project carries keep Rasa's behaviour: valid action answers pass, invalid ones fail."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError

import rasa.core.actions.action as action
from launcher import rasa_patches


ORIGINAL = action.RemoteAction._validate_action_result


@pytest.fixture
def patched():
    rasa_patches.apply_all()
    yield action.RemoteAction("action_x", None)
    action.RemoteAction._validate_action_result = ORIGINAL


def test_the_patch_replaces_rasas_validation(patched):
    assert action.RemoteAction._validate_action_result is not ORIGINAL
    assert action.RemoteAction._validate_action_result.__wrapped__ is ORIGINAL


def test_a_valid_action_answer_passes(patched):
    answer = {"events": [{"event": "slot", "name": "order_id", "value": "10001"}],
              "responses": [{"text": "Order 10001 shipped."}]}
    assert patched._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", [
    {"events": [{"name": "no event type"}]},
    {"events": "not a list"},
    {"responses": [{"text": 5}], "events": [{"event": 3}]},
])
def test_an_invalid_action_answer_fails_as_in_rasa(patched, answer):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        patched._validate_action_result(answer)
    # Rasa's own validation agrees.
    with pytest.raises(ValidationError):
        patched._validate_action_result.__wrapped__(patched, answer)


@pytest.fixture
def event_lookup():
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    rasa_patches.resolve_event_types_once()
    yield Event
    Event.resolve_by_type = original


def test_events_deserialise_as_with_rasas_lookup(event_lookup):
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    assert event_lookup.resolve_by_type.__wrapped__ is not None
    stored = [UserUttered("where is 10001", {"name": "check_order_status", "confidence": 0.9}),
              SlotSet("order_id", "10001"), ActionExecuted("action_listen")]
    again = [Event.from_parameters(event.as_dict()) for event in stored]
    assert again == stored and [type(event) for event in again] == [UserUttered, SlotSet, ActionExecuted]


def test_unknown_event_names_behave_as_in_rasa(event_lookup):
    from rasa.shared.core.events import SlotSet

    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        event_lookup.resolve_by_type("no_such_event")
    assert event_lookup.resolve_by_type("no_such_event", SlotSet) is SlotSet
    assert event_lookup.resolve_by_type("topic") is None
