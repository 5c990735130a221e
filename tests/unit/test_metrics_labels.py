"""The metrics' labels: bounded (no order id, path or made-up channel becomes one) and naming what happened."""

from __future__ import annotations

import inspect
import logging
import socket

import pytest
import yaml
from prometheus_client import REGISTRY
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from actions import clarification
from demoshop import metrics as shop_metrics
from demoshop.__main__ import build
from demoshop.config import Settings as ShopSettings
from foundation.metrics_endpoint import serve_metrics
from rasa_runtime import metrics as rasa_metrics
from tests.support.processes import REPO
from webchat import metrics as webchat_metrics
from webchat.server import resolve_static

DOMAIN = yaml.safe_load((REPO / "domain.yml").read_text())
INTENTS = DOMAIN["intents"]


def value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def rasa_value(name: str, labels: dict[str, str] | None = None) -> float:
    return rasa_metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0


# --- Rasa ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claimed", "label"),
    [
        *[(name, name) for name in ("rest", "slack", "teams", "whatsapp", "cmdline")],
        *[("anything-a-client-posts", "other"), (None, "other"), ("", "other")],
    ],
)
def test_a_channel_label_is_one_of_ours_or_other(claimed, label):
    assert rasa_metrics.channel_label(claimed) == label


def test_the_channels_labelled_are_the_ones_credentials_registers():
    credentials = yaml.safe_load((REPO / "credentials.yml").read_text())
    from channels.rest import RestChannel
    from channels.slack import SlackChannel
    from channels.teams import TeamsChannel
    from channels.whatsapp_twilio import WhatsAppChannel

    assert len(credentials) == 4
    assert {RestChannel.name(), SlackChannel.name(), TeamsChannel.name(), WhatsAppChannel.name()} <= set(
        rasa_metrics.CHANNELS
    )


def test_an_intent_label_is_a_domain_intent_or_other():
    assert rasa_metrics.intent_label("faq", INTENTS) == "faq"
    assert rasa_metrics.intent_label("nlu_fallback", INTENTS) == "nlu_fallback"
    assert rasa_metrics.intent_label("made_up_by_a_button_payload", INTENTS) == "other"
    assert rasa_metrics.intent_label(None, INTENTS) == "other"


def user(intent: str) -> UserUttered:
    return UserUttered("text", {"name": intent, "confidence": 0.9})


def bot(response: str) -> BotUttered:
    return BotUttered("words", metadata={"utter_action": response})


def test_a_plain_turn_counts_its_intent_and_its_bot_messages_and_nothing_else():
    outcome = rasa_metrics.turn_outcome(
        [
            user("greet"),
            ActionExecuted("utter_greet"),
            bot("utter_greet"),
            bot("utter_help"),
            ActionExecuted("action_listen"),
        ]
    )
    assert outcome == rasa_metrics.TurnOutcome(intent="greet", sent=2)


def test_a_message_nlu_was_unsure_of_is_an_nlu_fallback_and_its_clarifying_question_is_counted():
    outcome = rasa_metrics.turn_outcome(
        [user("nlu_fallback"), ActionExecuted("action_fallback"), bot("utter_clarify"), ActionExecuted("action_listen")]
    )
    assert outcome.fallbacks == ["nlu"] and outcome.clarified and outcome.sent == 1


def test_the_fallback_action_after_an_understood_message_is_a_core_fallback_but_off_topic_is_not():
    understood = rasa_metrics.turn_outcome([user("check_order_status"), ActionExecuted("action_fallback")])
    off_topic = rasa_metrics.turn_outcome([user("out_of_scope"), ActionExecuted("action_fallback"), bot("utter_x")])
    assert understood.fallbacks == ["core"] and off_topic.fallbacks == []


def test_a_handoff_reason_set_in_the_turn_is_counted_by_its_kind_and_a_cleared_one_is_not():
    outcome = rasa_metrics.turn_outcome(
        [
            user("check_order_status"),
            SlotSet("handoff_reason", "backend_unavailable:orders"),
            SlotSet("handoff_reason", None),
            SlotSet("handoff_reason", "fallback"),
            SlotSet("other_slot", "fallback"),
        ]
    )
    assert outcome.handoff_reasons == ["backend_unavailable", "fallback"]


def test_the_clarifying_responses_are_the_ones_the_fallback_action_asks_with_and_exist_in_the_domain():
    asked_with = inspect.getsource(clarification.ask)
    assert all(f'"{name}"' in asked_with for name in rasa_metrics.CLARIFYING_RESPONSES)
    assert set(DOMAIN["responses"]) >= rasa_metrics.CLARIFYING_RESPONSES
    assert {rasa_metrics.NLU_FALLBACK, rasa_metrics.OUT_OF_SCOPE} <= set(INTENTS)
    assert rasa_metrics.FALLBACK_ACTION in DOMAIN["actions"] and rasa_metrics.HANDOFF_REASON_SLOT in DOMAIN["slots"]


def test_counting_a_turn_moves_each_family_by_what_the_turn_did():
    before = {
        "intent": rasa_value("assistant_intents_total", {"intent": "nlu_fallback"}),
        "sent": rasa_value("assistant_messages_sent_total", {"channel": "teams"}),
        "nlu": rasa_value("assistant_fallbacks_total", {"stage": "nlu"}),
        "clarified": rasa_value("assistant_clarifications_total"),
        "handoff": rasa_value("assistant_handoffs_total", {"reason": "fallback"}),
    }
    outcome = rasa_metrics.turn_outcome(
        [user("nlu_fallback"), bot("utter_clarify_one"), bot("utter_x"), SlotSet("handoff_reason", "fallback")]
    )
    rasa_metrics.count_turn(outcome, "teams", INTENTS)
    assert rasa_value("assistant_intents_total", {"intent": "nlu_fallback"}) == before["intent"] + 1
    assert rasa_value("assistant_messages_sent_total", {"channel": "teams"}) == before["sent"] + 2
    assert rasa_value("assistant_fallbacks_total", {"stage": "nlu"}) == before["nlu"] + 1
    assert rasa_value("assistant_clarifications_total") == before["clarified"] + 1
    assert rasa_value("assistant_handoffs_total", {"reason": "fallback"}) == before["handoff"] + 1


def test_csat_asked_rated_and_skipped_are_read_from_the_turns_events():
    asked = rasa_metrics.turn_outcome(
        [user("goodbye"), ActionExecuted("action_csat_offer"), SlotSet("csat_asked", True), bot("utter_csat_question")]
    )
    rated = rasa_metrics.turn_outcome([user("rate"), ActionExecuted("action_csat_rate"), SlotSet("csat_rating", 4)])
    skipped = rasa_metrics.turn_outcome([user("deny"), ActionExecuted("action_csat_skip"), bot("utter_csat_skipped")])
    plain = rasa_metrics.turn_outcome([user("goodbye"), ActionExecuted("action_csat_offer")])
    assert (asked.csat_asked, asked.csat_rating, asked.csat_skipped) == (True, None, False)
    assert (rated.csat_asked, rated.csat_rating, rated.csat_skipped) == (False, "4", False)
    assert (skipped.csat_rating, skipped.csat_skipped) == (None, True)
    assert (plain.csat_asked, plain.csat_rating, plain.csat_skipped) == (False, None, False)


@pytest.mark.parametrize(
    ("value", "label"), [(5, "5"), (1.0, "1"), ("3", "3"), (0, None), (6, None), (4.5, None), ("x", None)]
)
def test_a_csat_rating_label_is_one_of_the_five_ratings_or_none(value, label):
    rating = rasa_metrics.csat_rating(value)
    assert (None if rating is None else str(rating)) == label


def test_counting_csat_moves_the_rating_of_the_turn_and_the_skips():
    before = {
        "asked": rasa_value("assistant_csat_asked_total"),
        "five": rasa_value("assistant_csat_ratings_total", {"rating": "5"}),
        "two": rasa_value("assistant_csat_ratings_total", {"rating": "2"}),
        "skipped": rasa_value("assistant_csat_skipped_total"),
    }
    rasa_metrics.count_turn(rasa_metrics.turn_outcome([user("goodbye"), SlotSet("csat_asked", True)]), "rest", INTENTS)
    rasa_metrics.count_turn(rasa_metrics.turn_outcome([user("rate"), SlotSet("csat_rating", 5)]), "rest", INTENTS)
    rasa_metrics.count_turn(rasa_metrics.turn_outcome([user("rate"), SlotSet("csat_rating", 9)]), "rest", INTENTS)
    rasa_metrics.count_turn(
        rasa_metrics.turn_outcome([user("deny"), ActionExecuted("action_csat_skip")]), "rest", INTENTS
    )
    assert rasa_value("assistant_csat_asked_total") == before["asked"] + 1
    assert rasa_value("assistant_csat_ratings_total", {"rating": "5"}) == before["five"] + 1
    assert rasa_value("assistant_csat_ratings_total", {"rating": "2"}) == before["two"]
    assert rasa_value("assistant_csat_skipped_total") == before["skipped"] + 1


def test_the_csat_names_the_metrics_read_are_the_domains_and_the_actions():
    from actions import csat

    assert {rasa_metrics.CSAT_ASKED_SLOT, rasa_metrics.CSAT_RATING_SLOT} <= set(DOMAIN["slots"])
    assert rasa_metrics.CSAT_ASKED_SLOT == csat.ASKED_SLOT and rasa_metrics.CSAT_RATING_SLOT == csat.RATING_SLOT
    assert (
        csat.ActionCsatSkip().name() == rasa_metrics.CSAT_SKIP_ACTION
        and rasa_metrics.CSAT_SKIP_ACTION in DOMAIN["actions"]
    )


def test_rasa_and_the_action_server_share_names_in_one_process_and_rasas_page_shows_both_registries():
    from actions import observability

    assert observability.FALLBACKS is not rasa_metrics.FALLBACKS  # imported together without a clash
    names = {metric.name for metric in rasa_metrics.exported_registry().collect()}
    assert {"assistant_messages_received", "assistant_lock_wait_seconds", "assistant_fallbacks"} <= names
    assert "process_cpu_seconds" in names or "python_gc_objects_collected" in names  # the default registry's


# --- the demo shop ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The demo shop's real Flask app over a seeded SQLite file, with one route that fails (a 500)."""
    folder = tmp_path_factory.mktemp("shop-metrics")
    settings = ShopSettings.from_env({"DEMOSHOP_DATABASE_URL": f"sqlite:///{folder / 'shop.sqlite'}"})
    app = build(settings)

    def fails() -> None:
        raise RuntimeError("a bug")

    app.add_url_rule("/test-only/fails/<thing>", "fails", fails)
    logging.getLogger("demoshop.access").disabled = True  # the 500's traceback is expected here
    yield app.test_client(), {"Authorization": f"Bearer {settings.api_key}"}
    logging.getLogger("demoshop.access").disabled = False


def shop_requests(route: str, method: str, status: int) -> float:
    return value("assistant_shop_requests_total", {"route": route, "method": method, "status": str(status)})


def test_shop_requests_are_labelled_by_route_pattern_never_by_the_order_id(shop):
    client, auth = shop
    route = "/v1/orders/<order_id>"
    ok, missing, refused = (
        shop_requests(route, "GET", 200),
        shop_requests(route, "GET", 404),
        shop_requests(route, "GET", 401),
    )
    timed = value("assistant_shop_request_seconds_count", {"route": route})
    order = client.get("/v1/orders?limit=1", headers=auth).get_json()["orders"][0]["id"]
    assert client.get(f"/v1/orders/{order}", headers=auth).status_code == 200
    assert client.get("/v1/orders/99999999", headers=auth).status_code == 404
    assert client.get(f"/v1/orders/{order}").status_code == 401  # refused before the view: still its route
    assert shop_requests(route, "GET", 200) == ok + 1
    assert shop_requests(route, "GET", 404) == missing + 1
    assert shop_requests(route, "GET", 401) == refused + 1
    assert value("assistant_shop_request_seconds_count", {"route": route}) == timed + 3
    labels = [sample.labels for family in REGISTRY.collect() for sample in family.samples]
    assert not any(order in str(label) or "99999999" in str(label) for label in labels)


def test_a_path_no_route_serves_and_an_odd_method_get_bounded_labels(shop):
    client, _ = shop
    unmatched = shop_requests("unmatched", "GET", 404)
    odd = shop_requests("unmatched", "other", 405)
    assert client.get("/no/such/path/C1234").status_code == 404
    assert client.open("/health", method="BREW").status_code == 405
    assert shop_requests("unmatched", "GET", 404) == unmatched + 1
    assert shop_metrics.method_label("BREW") == "other" and shop_metrics.route_label(None) == "unmatched"
    # Werkzeug matches no rule for a method the route does not take: unmatched, and the method is `other`
    assert shop_requests("unmatched", "other", 405) == odd + 1


def test_a_5xx_is_a_shop_error_of_its_route(shop):
    client, _ = shop
    route = "/test-only/fails/<thing>"
    errors, health_errors = (
        value("assistant_shop_errors_total", {"route": route}),
        value("assistant_shop_errors_total", {"route": "/health"}),
    )
    assert client.get("/test-only/fails/x").status_code == 500
    assert client.get("/health").status_code == 200
    assert value("assistant_shop_errors_total", {"route": route}) == errors + 1
    assert shop_requests(route, "GET", 500) >= 1
    assert value("assistant_shop_errors_total", {"route": "/health"}) == health_errors


# --- the web chat server ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/health", "/health"),
        ("/config.js", "/config.js"),
        ("/session", "/session"),
        ("/", "static"),
        ("/widget.js", "static"),
        ("/nope.html", "unmatched"),
        ("/../actions/base.py", "unmatched"),
        ("/server.py", "unmatched"),
    ],
)
def test_a_web_chat_route_is_its_own_a_static_file_or_unmatched(path, route):
    assert webchat_metrics.route_label(path, resolve_static) == route


def test_only_a_session_answered_200_is_a_session_issued():
    issued = value("assistant_webchat_sessions_issued_total")
    refused = value("assistant_webchat_requests_total", {"route": "/session", "status": "404"})
    webchat_metrics.count_request("/session", 200)
    webchat_metrics.count_request("/session", 404)
    webchat_metrics.count_request("/health", 200)
    assert value("assistant_webchat_sessions_issued_total") == issued + 1
    assert value("assistant_webchat_requests_total", {"route": "/session", "status": "404"}) == refused + 1


# --- the endpoint ---------------------------------------------------------------------------------------------


def test_a_metrics_port_of_0_is_off_and_a_taken_one_is_logged_with_its_variable(caplog):
    log = logging.getLogger("test.metrics")
    assert serve_metrics(0, "127.0.0.1", "SOME_METRICS_PORT", log) is False
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="test.metrics"):
            assert serve_metrics(port, "127.0.0.1", "SOME_METRICS_PORT", log) is False
    (record,) = [r for r in caplog.records if r.name == "test.metrics"]
    assert record.levelno == logging.ERROR and record.variable == "SOME_METRICS_PORT" and record.port == port
