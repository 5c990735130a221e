"""The Rasa fixes the project carries keep Rasa's behaviour, and each one's switch leaves Rasa's own code in place."""

from __future__ import annotations

import pytest
import rasa
import rasa.core.actions.action as action
import rasa.core.channels.channel as channel_module
import rasa.core.run as run_module
from jsonschema import ValidationError
from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import TrackerStore
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from sanic.handlers import ErrorHandler

from rasa_runtime import flat_turns, idempotent_turns
from rasa_runtime import patches as rasa_patches

ORIGINAL = action.RemoteAction._validate_action_result
# What each switch's patch replaces, as Rasa has it.
RASAS = {
    "RASA_PATCH_VALIDATE_ONCE": lambda: action.RemoteAction._validate_action_result,
    "RASA_PATCH_EVENT_TYPES": lambda: Event.resolve_by_type,
    "RASA_PATCH_GRAPH_RUNNER": lambda: DaskGraphRunner.run,
    "RASA_PATCH_RATE_LIMITS": lambda: channel_module.register,  # and run_module.configure_app
    "RASA_PATCH_SECRET_MASKING": lambda: MessageProcessor.save_tracker,
    "RASA_PATCH_ACTION_OUTAGE": lambda: action.RemoteAction.run,
    "RASA_PATCH_JSON_ERRORS": lambda: ErrorHandler.default,
    "RASA_PATCH_FLAT_TURNS": lambda: DialogueStateTracker.past_states,  # and the others of flat_turns.PATCHED
    "RASA_PATCH_METRICS": lambda: MessageProcessor.handle_message,  # and log_message, Agent.handle_message
    "RASA_PATCH_IDEMPOTENT_TURNS": lambda: MessageProcessor._handle_message_with_tracker,  # and its PATCHED
}
ORIGINALS = {variable: current() for variable, current in RASAS.items()}


@pytest.fixture(autouse=True)
def unpatched_afterwards():
    """Each test leaves Rasa as it found it (apply_all patches these places)."""
    saved = (Event.__dict__["resolve_by_type"], DaskGraphRunner.run, channel_module.register, run_module.configure_app)
    saved_save_tracker, saved_remote_run = MessageProcessor.save_tracker, action.RemoteAction.run
    saved_default = ErrorHandler.default
    saved_metrics = (MessageProcessor.handle_message, MessageProcessor.log_message, Agent.handle_message)
    saved_stream = TrackerStore.__dict__["_stream_new_events"]  # the broker's redaction (secret_masking)
    yield
    TrackerStore._stream_new_events = saved_stream
    flat_turns.undo()
    idempotent_turns.undo()
    MessageProcessor.handle_message, MessageProcessor.log_message, Agent.handle_message = saved_metrics
    ErrorHandler.default = saved_default
    MessageProcessor.save_tracker, action.RemoteAction.run = saved_save_tracker, saved_remote_run
    action.RemoteAction._validate_action_result = ORIGINAL
    Event.resolve_by_type, DaskGraphRunner.run, channel_module.register, run_module.configure_app = saved


def test_rasa_is_unpatched_when_the_tests_start():
    assert all(not hasattr(original, "__wrapped__") for original in ORIGINALS.values())
    assert set(RASAS) == set(rasa_patches.SWITCHES)


def test_every_patch_is_applied_by_default():
    assert rasa_patches.apply_all({}) == {patch.__name__: True for patch in rasa_patches.SWITCHES.values()}
    for variable, current in RASAS.items():
        assert current() is not ORIGINALS[variable]
        assert current().__wrapped__ is ORIGINALS[variable]
    rasa_patches.apply_all({})  # twice (a second runtime in the process) wraps nothing twice
    assert all(current().__wrapped__ is ORIGINALS[variable] for variable, current in RASAS.items())


@pytest.mark.parametrize("variable", sorted(rasa_patches.SWITCHES))
def test_a_patch_switched_off_is_not_applied_and_rasas_code_stays(variable):
    applied = rasa_patches.apply_all({variable: "off", "UNRELATED": "off"})
    assert applied[rasa_patches.SWITCHES[variable].__name__] is False
    assert sum(applied.values()) == len(rasa_patches.SWITCHES) - 1
    assert RASAS[variable]() is ORIGINALS[variable]
    for other, current in RASAS.items():
        if other != variable:
            assert current().__wrapped__ is ORIGINALS[other]


def test_switches_read_on_off_and_refuse_anything_else():
    assert rasa_patches.switches(
        {"RASA_PATCH_GRAPH_RUNNER": " OFF ", "RASA_PATCH_EVENT_TYPES": "on", "RASA_PATCH_VALIDATE_ONCE": ""}
    ) == {
        "RASA_PATCH_VALIDATE_ONCE": True,
        "RASA_PATCH_EVENT_TYPES": True,
        "RASA_PATCH_GRAPH_RUNNER": False,
        "RASA_PATCH_RATE_LIMITS": True,
        "RASA_PATCH_SECRET_MASKING": True,
        "RASA_PATCH_ACTION_OUTAGE": True,
        "RASA_PATCH_JSON_ERRORS": True,
        "RASA_PATCH_FLAT_TURNS": True,
        "RASA_PATCH_METRICS": True,
        "RASA_PATCH_IDEMPOTENT_TURNS": True,
    }
    with pytest.raises(ValueError, match="RASA_PATCH_EVENT_TYPES='0': a patch switch is on or off"):
        rasa_patches.apply_all({"RASA_PATCH_EVENT_TYPES": "0"})
    assert all(current() is ORIGINALS[variable] for variable, current in RASAS.items())  # nothing half-applied


def test_another_rasa_version_is_refused_unless_every_patch_is_off(monkeypatch):
    monkeypatch.setattr(rasa, "__version__", "3.6.99")
    with pytest.raises(RuntimeError, match=r"written for rasa 3\.6\.21, found 3\.6\.99"):
        rasa_patches.apply_all({"RASA_PATCH_EVENT_TYPES": "off"})
    assert all(current() is ORIGINALS[variable] for variable, current in RASAS.items())
    assert not any(rasa_patches.apply_all({variable: "off" for variable in rasa_patches.SWITCHES}).values())
    assert all(current() is ORIGINALS[variable] for variable, current in RASAS.items())


@pytest.fixture
def patched():
    rasa_patches.apply_all({})
    return action.RemoteAction("action_x", None)


def test_the_patch_replaces_rasas_validation(patched):
    assert action.RemoteAction._validate_action_result is not ORIGINAL
    assert action.RemoteAction._validate_action_result.__wrapped__ is ORIGINAL


def test_a_valid_action_answer_passes(patched):
    answer = {
        "events": [{"event": "slot", "name": "order_id", "value": "10001"}],
        "responses": [{"text": "Order 10001 shipped."}],
    }
    assert patched._validate_action_result(answer) is True


@pytest.mark.parametrize(
    "answer",
    [
        {"events": [{"name": "no event type"}]},
        {"events": "not a list"},
        {"responses": [{"text": 5}], "events": [{"event": 3}]},
    ],
)
def test_an_invalid_action_answer_fails_as_in_rasa(patched, answer):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        patched._validate_action_result(answer)
    # Rasa's own validation agrees.
    with pytest.raises(ValidationError):
        patched._validate_action_result.__wrapped__(patched, answer)


@pytest.fixture
def event_lookup():
    from rasa.shared.core.events import Event

    rasa_patches.resolve_event_types_once()
    return Event


def test_events_deserialise_as_with_rasas_lookup(event_lookup):
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    assert event_lookup.resolve_by_type.__wrapped__ is not None
    stored = [
        UserUttered("where is 10001", {"name": "check_order_status", "confidence": 0.9}),
        SlotSet("order_id", "10001"),
        ActionExecuted("action_listen"),
    ]
    again = [Event.from_parameters(event.as_dict()) for event in stored]
    assert again == stored and [type(event) for event in again] == [UserUttered, SlotSet, ActionExecuted]


def test_unknown_event_names_behave_as_in_rasa(event_lookup):
    from rasa.shared.core.events import SlotSet

    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        event_lookup.resolve_by_type("no_such_event")
    assert event_lookup.resolve_by_type("no_such_event", SlotSet) is SlotSet
    assert event_lookup.resolve_by_type("topic") is None


@pytest.fixture(scope="module")
def served_agent():
    """The trained model (make test trains it first), loaded as `rasa run` loads it."""
    from rasa.core.agent import Agent

    from nlu_components import intent_classifier  # noqa: F401  (registers the project's components)
    from tests.support.processes import REPO

    model = REPO / "models" / "larkspur.tar.gz"
    if not model.exists():
        pytest.skip("models/larkspur.tar.gz is missing: run `make train` (make test does)")
    return Agent.load(str(model))


@pytest.mark.slow  # loads the trained model
def test_graphs_run_without_dask_give_dasks_results(served_agent):
    import asyncio

    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    texts = ["where is my refund?", "has 10002 shipped yet?", "what's your returns policy", "🦊", "yes please"]
    processor = served_agent.processor

    def outputs():
        loop = asyncio.new_event_loop()
        parsed = [loop.run_until_complete(served_agent.parse_message(text)) for text in texts]
        loop.close()
        predictions = []
        for text, parse in zip(texts, parsed, strict=True):
            tracker = DialogueStateTracker.from_events(
                "patch-test",
                [
                    ActionExecuted("action_listen"),
                    SlotSet("customer_id", "C1001"),
                    UserUttered(text, parse["intent"], parse["entities"], parse),
                ],
                slots=served_agent.domain.slots,
            )
            prediction = processor._predict_next_with_tracker(tracker)
            predictions.append((prediction.policy_name, prediction.max_confidence_index, prediction.probabilities))
        return parsed, predictions

    original = DaskGraphRunner.run
    with_dask = outputs()
    rasa_patches.run_graphs_without_dask()
    assert DaskGraphRunner.run is not original
    assert outputs() == with_dask
    with pytest.raises(Exception, match="clashes with a node name"):
        processor.graph_runner.run(inputs={"__tracker__": "run_RulePolicy0"}, targets=["select_prediction"])


@pytest.mark.slow  # loads the trained model
def test_the_metrics_count_each_turn_and_leave_rasas_answers_as_they_were(served_agent):
    import asyncio

    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from rasa_runtime import metrics

    def value(name: str, labels: dict | None = None) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0

    def answers(sender: str) -> tuple[list, list]:
        """The bot messages of each turn, and the actions the conversation ran (response texts vary at random)."""
        from rasa.shared.core.events import ActionExecuted

        loop = asyncio.new_event_loop()
        said = []
        for text in ("hi", "thanks"):
            out = CollectingOutputChannel()
            message = UserMessage(text, out, sender, input_channel="rest")
            said.append(loop.run_until_complete(served_agent.handle_message(message)))
        tracker = loop.run_until_complete(served_agent.tracker_store.retrieve(sender))
        loop.close()
        ran = [event.action_name for event in tracker.events if isinstance(event, ActionExecuted)]
        return [len(turn) for turn in said], ran

    unpatched = answers("metrics-unpatched")
    assert all(unpatched[0]), unpatched  # each message got an answer: the sent messages below are counted
    received, turns = (
        value("assistant_messages_received_total", {"channel": "rest"}),
        value("assistant_turn_seconds_count", {"channel": "rest"}),
    )
    greeted, waits = value("assistant_intents_total", {"intent": "greet"}), value("assistant_lock_wait_seconds_count")
    sent = value("assistant_messages_sent_total", {"channel": "rest"})
    rasa_patches.export_metrics()
    assert answers("metrics-patched") == unpatched
    assert value("assistant_messages_received_total", {"channel": "rest"}) == received + 2
    assert value("assistant_turn_seconds_count", {"channel": "rest"}) == turns + 2
    assert value("assistant_lock_wait_seconds_count") == waits + 2
    assert value("assistant_intents_total", {"intent": "greet"}) == greeted + 1
    assert value("assistant_messages_sent_total", {"channel": "rest"}) == sent + sum(unpatched[0])


@pytest.mark.slow  # loads the trained model
def test_flat_turns_answer_a_long_conversation_as_rasa_does(served_agent, tmp_path):
    """Forty turns of greetings, FAQs, order questions (whose form calls an action server that is not there),
    handoff requests and nonsense, through Rasa's processor and the tracker store we serve: with the patch,
    every answer and every event's action, policy and confidence are Rasa's own."""
    import asyncio

    import numpy
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from conversation_stores.tracker_store import CachingSQLTrackerStore

    texts = ["hi", "where is my order 10002?", "what's your returns policy", "thanks", "🦊", "no", "stop"]
    texts += ["can I talk to a person", "how long does delivery take?", "yes", "do you ship to the UK?", "bye"]
    processor = served_agent.processor
    store = CachingSQLTrackerStore(served_agent.domain, dialect="sqlite", db=str(tmp_path / "trackers.sqlite"))
    stock_store, processor.tracker_store = processor.tracker_store, store

    def conversation(sender: str) -> tuple[list, list]:
        numpy.random.seed(7)  # the response variation Rasa picks
        loop = asyncio.new_event_loop()
        said = []
        for turn in range(40):
            out = CollectingOutputChannel()
            message = UserMessage(texts[turn % len(texts)], out, sender, input_channel="rest")
            said.append([m.get("text") for m in loop.run_until_complete(processor.handle_message(message))])
        tracker = loop.run_until_complete(store.retrieve(sender))
        loop.close()
        events = [(e.type_name, getattr(e, "action_name", None), getattr(e, "policy", None)) for e in tracker.events]
        return said, events

    try:
        unpatched = conversation("flat-turns-unpatched")
        flat_turns.keep_turns_flat()
        patched = conversation("flat-turns-patched")
    finally:
        processor.tracker_store = stock_store
    assert patched == unpatched
    assert store.stats["reused_trackers"] >= 39  # the patched turns continued the tracker of the turn before
