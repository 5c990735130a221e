"""The Rasa fixes the project carries keep Rasa's behaviour: valid action answers pass, invalid ones fail."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError

import rasa.core.actions.action as action
from launcher import rasa_patches


ORIGINAL = action.RemoteAction._validate_action_result


@pytest.fixture(autouse=True)
def unpatched_afterwards():
    """Each test leaves Rasa as it found it (apply_all patches four places)."""
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    saved = (Event.__dict__["resolve_by_type"], DaskGraphRunner.run, EndpointConfig.session)
    yield
    action.RemoteAction._validate_action_result = ORIGINAL
    Event.resolve_by_type, DaskGraphRunner.run, EndpointConfig.session = saved


@pytest.fixture
def patched():
    rasa_patches.apply_all()
    return action.RemoteAction("action_x", None)


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

    rasa_patches.resolve_event_types_once()
    return Event


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
        for text, parse in zip(texts, parsed):
            tracker = DialogueStateTracker.from_events(
                "patch-test", [ActionExecuted("action_listen"), SlotSet("customer_id", "C1001"),
                               UserUttered(text, parse["intent"], parse["entities"], parse)],
                slots=served_agent.domain.slots)
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


def test_endpoint_requests_share_keep_alive_connections():
    """A real HTTP server counts the client connections that five action calls open."""
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    async def scenario(patch: bool):
        peers = []

        async def webhook(request):
            peers.append(request.transport.get_extra_info("peername")[1])
            return web.json_response({"echo": (await request.json())["n"], "token": request.query.get("token")})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        if patch:
            rasa_patches.keep_endpoint_connections()
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="s3cret")
        answers = [await endpoint.request(json={"n": n}) for n in range(5)]
        async with endpoint.session() as session:  # as rasa/core/agent.py uses it
            async with session.get(f"http://127.0.0.1:{port}/missing") as response:
                assert response.status == 404
        assert not session.closed or not patch
        await runner.cleanup()
        return answers, len(set(peers))

    answers, connections = asyncio.run(scenario(patch=False))
    assert connections == 5  # Rasa's own: a new connection per call
    patched_answers, patched_connections = asyncio.run(scenario(patch=True))
    assert patched_answers == answers == [{"echo": n, "token": "s3cret"} for n in range(5)]
    assert patched_connections == 1
