"""CSAT (actions/csat.py): when the rating question may be asked, what counts as a rating or a skip, and what
its actions say and store. The conversation itself is tested in tests/conversations/test_csat.yml."""

from __future__ import annotations

import inspect

import pytest
from rasa.core.channels.channel import CollectingOutputChannel

from actions import csat
from channels import rest
from tests.support.conversation import DOMAIN, entity, make_tracker, run, slot_events


def bot(response: str) -> dict:
    return {"event": "bot", "text": "words", "metadata": {"utter_action": response}}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def slot(name: str, value) -> dict:
    return {"event": "slot", "name": name, "value": value}


def loop(name: str | None) -> dict:
    return {"event": "active_loop", "name": name}


RESOLVED = [action("action_order_status"), bot("utter_order_status_shipped")]


# --- when to ask ---------------------------------------------------------------------------------


def test_asked_after_a_resolved_request_and_after_a_help_centre_answer():
    assert csat.should_ask([*RESOLVED, action("utter_goodbye")])
    assert csat.should_ask([action("utter_faq"), bot("utter_faq/shipping_costs")])


def test_not_asked_when_nothing_was_resolved():
    assert not csat.should_ask([])
    assert not csat.should_ask([bot("utter_greet"), bot("utter_out_of_scope"), bot("utter_cancel_refused_shipped")])


def test_never_asked_twice_in_a_conversation():
    assert not csat.should_ask([*RESOLVED, slot("csat_asked", True), bot("utter_csat_question"), *RESOLVED])


def test_a_new_session_may_be_asked_again_but_only_after_a_resolution_in_it():
    earlier = [*RESOLVED, slot("csat_asked", True), {"event": "session_started"}]
    assert not csat.should_ask(earlier)
    assert csat.should_ask([*earlier, *RESOLVED])


@pytest.mark.parametrize(
    "handoff",
    [action("action_handoff"), {"event": "pause"}, slot("handoff_ticket", "T-1001")],
    ids=["handoff action", "paused", "ticket"],
)
def test_never_asked_after_a_handoff(handoff):
    assert not csat.should_ask([*RESOLVED, handoff, {"event": "resume"}])


def test_never_asked_in_the_middle_of_a_form_or_with_a_question_open():
    assert not csat.should_ask([*RESOLVED, loop("service_form")])
    assert csat.should_ask([*RESOLVED, loop("service_form"), loop(None)])
    assert not csat.should_ask([*RESOLVED, slot("pending", "confirm")])
    assert not csat.should_ask([*RESOLVED, slot("pending", "handoff")])
    assert csat.should_ask([*RESOLVED, slot("pending", "confirm"), slot("pending", None)])


def test_the_resolving_responses_exist_in_the_domain():
    assert set(DOMAIN["responses"]) >= csat.RESOLVED_RESPONSES
    assert set(DOMAIN["responses"]) >= csat.RATING_QUESTIONS


# --- what is a rating, what is a skip --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("4", 4),
        ("5 stars", 5),
        ("four", 4),
        ("3/5", 3),
        ("4 out of 5", 4),
        ("it was ok, 3", 3),
        ("⭐⭐", 2),
        ("1 star ⭐", 1),
        ("Five!", 5),
    ],
)
def test_a_typed_rating_is_read(text, rating):
    assert csat.parse_rating(text) == rating


@pytest.mark.parametrize(
    "text",
    ["10234", "386278", "0", "6", "7/10", "4.5", "3 or 4", "between 4 and five", "order 10234 was 5", "great", ""],
)
def test_an_order_number_a_code_or_anything_but_one_rating_is_not_a_rating(text):
    assert csat.parse_rating(text) is None


def test_a_buttons_entity_wins_and_is_checked_for_its_range():
    assert csat.rating_of({"text": '/rate{"csat_rating": 2}', "entities": [{"entity": "csat_rating", "value": 2}]}) == 2
    assert csat.rating_of({"text": "/rate", "entities": [{"entity": "csat_rating", "value": 9}]}) is None
    assert csat.rating_of({"text": "/rate", "entities": [{"entity": "csat_rating", "value": "x"}]}) is None


@pytest.mark.parametrize(
    "text", ["skip", "Skip it!", "no thanks", "nope", "nothing", "no comment", "not now", "n/a", "nothing, all good"]
)
def test_a_skipped_comment_is_no_comment(text):
    assert csat.is_skip(text) and csat.comment_of(text) is None


def test_a_comment_is_kept_trimmed_and_bounded():
    assert csat.comment_of("  The tracking link didn't open. ") == "The tracking link didn't open."
    assert not csat.is_skip("no, it was great")
    assert len(csat.comment_of("x" * 5000) or "") == csat.MAX_COMMENT_CHARS


def test_the_rating_counts_only_while_the_rating_question_is_the_last_message():
    assert csat.rating_question_is_last([bot("utter_goodbye"), bot("utter_csat_question")])
    assert csat.rating_question_is_last([bot("utter_csat_rating_invalid"), {"event": "user", "text": "7"}])
    assert not csat.rating_question_is_last([bot("utter_csat_question"), bot("utter_ask_login_email")])
    assert not csat.rating_question_is_last([])


# --- the actions ---------------------------------------------------------------------------------


def test_the_offer_asks_once_and_marks_the_rating_as_the_open_question():
    tracker = make_tracker("bye", "goodbye", history=RESOLVED)
    messages, events = run(csat.ActionCsatOffer(), tracker)
    assert [m["response"] for m in messages] == ["utter_csat_question"]
    assert slot_events(events) == {"csat_asked": True, "csat_stage": "rating"}


def test_the_offer_says_nothing_when_it_may_not_ask_and_closes_a_stale_question():
    quiet = make_tracker("bye", "goodbye", history=[*RESOLVED, slot("csat_asked", True)])
    assert run(csat.ActionCsatOffer(), quiet) == ([], [])
    stale = make_tracker(
        "bye", "goodbye", slots={"csat_stage": "rating"}, history=[*RESOLVED, slot("csat_asked", True)]
    )
    assert run(csat.ActionCsatOffer(), stale) == (
        [],
        [{"event": "slot", "name": "csat_stage", "value": None, "timestamp": None}],
    )


def test_a_rating_is_stored_and_opens_the_comment_question():
    tracker = make_tracker("it was ok, 3", "rate", history=[bot("utter_csat_question")])
    messages, events = run(csat.ActionCsatRate(), tracker)
    assert [m["response"] for m in messages] == ["utter_csat_rated_low"]
    assert slot_events(events) == {"csat_rating": 3, "csat_stage": "comment"}
    high = make_tracker(
        "/rate", "rate", entities=[{"entity": "csat_rating", "value": 5}], history=[bot("utter_csat_question")]
    )
    messages, events = run(csat.ActionCsatRate(), high)
    assert [m["response"] for m in messages] == ["utter_csat_rated_high"] and slot_events(events)["csat_rating"] == 5


def test_an_answer_that_is_no_rating_is_asked_again_and_stores_nothing():
    tracker = make_tracker("7", "rate", history=[bot("utter_csat_question")])
    messages, events = run(csat.ActionCsatRate(), tracker)
    assert [m["response"] for m in messages] == ["utter_csat_rating_invalid"] and events == []


def test_a_rating_with_no_rating_question_open_is_handled_as_not_understood():
    tracker = make_tracker("4", "rate", history=[*RESOLVED])
    _, events = run(csat.ActionCsatRate(), tracker)
    assert "csat_rating" not in slot_events(events)
    assert {"event": "followup", "name": "action_listen", "timestamp": None} in events


def test_a_skip_closes_the_question_without_a_rating():
    messages, events = run(csat.ActionCsatSkip(), make_tracker("no thanks", "deny", slots={"csat_stage": "rating"}))
    assert [m["response"] for m in messages] == ["utter_csat_skipped"]
    assert slot_events(events) == {"csat_stage": None}


def test_the_comment_form_closes_after_one_answer_comment_or_skip():
    form = csat.ValidateCsatCommentForm()
    for text, stored in (("The bot was quick", "The bot was quick"), ("skip", None)):
        tracker = make_tracker(
            text,
            "out_of_scope",
            slots={"csat_stage": "comment", "csat_comment": text, "requested_slot": "csat_comment"},
            active_loop="csat_comment_form",
        )
        tracker.events.append(slot("csat_comment", text))  # Rasa's from_text mapping, after the message
        _, events = run(form, tracker)
        assert slot_events(events) == {"csat_comment": stored, "csat_stage": None, "requested_slot": None}


# --- the question on each channel ----------------------------------------------------------------


def test_the_web_chat_gets_buttons_and_the_other_channels_a_number_to_type():
    web_channel = CollectingOutputChannel.name()
    assert "CollectingOutputChannel()" in inspect.getsource(rest)  # the REST channel's replies go through it
    for name in ("utter_csat_question", "utter_csat_rating_invalid"):
        variants = DOMAIN["responses"][name]
        web = [v for v in variants if v.get("channel") == web_channel]
        other = [v for v in variants if not v.get("channel")]
        assert len(web) == 1 and len(other) == 1
        payloads = [b["payload"] for b in web[0]["buttons"]]
        assert payloads[:5] == [f'/rate{{{{"csat_rating": {n}}}}}' for n in range(1, 6)] and payloads[5] == "/deny"
        assert "1" in other[0]["text"] and "5" in other[0]["text"] and "buttons" not in other[0]


def test_a_buttons_payload_reaches_rasa_with_its_rating():
    from rasa.core.nlg.interpolator import interpolate

    button = DOMAIN["responses"]["utter_csat_question"][0]["buttons"][3]
    assert interpolate(dict(button), {"csat_rating": None})["payload"] == '/rate{"csat_rating": 4}'


def test_a_comment_that_reads_like_a_request_leaves_the_shoppers_request_as_it_was():
    tracker = make_tracker(
        "cancelling was confusing",
        "cancel_order",
        slots={"csat_stage": "comment", "requested_slot": "csat_comment", "goal": "cancel_order"},
        history=[slot("goal", "order_status"), bot("utter_ask_csat_comment")],
        active_loop="csat_comment_form",
    )
    tracker.events.extend([slot("goal", "cancel_order"), slot("csat_comment", "cancelling was confusing")])
    _, events = run(csat.ValidateCsatCommentForm(), tracker)
    assert slot_events(events)["goal"] == "order_status"
    assert slot_events(events)["csat_comment"] == "cancelling was confusing"


def test_an_order_number_read_as_a_rating_is_handled_as_an_order_number():
    text = "10234, thank you"
    tracker = make_tracker(
        text, "rate", entities=[entity("order_id", "10234", text)], history=[bot("utter_csat_question")]
    )
    messages, events = run(csat.ActionCsatRate(), tracker)
    assert [m["response"] for m in messages] == ["utter_what_to_do_with_order"]
    assert "csat_rating" not in slot_events(events) and slot_events(events)["order_id"] == "10234"


# --- a new request at the comment question -------------------------------------------------------


def message(text: str, intent: str, confidence: float = 0.99, entities: list | None = None) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}


@pytest.mark.parametrize(
    "text, intent",
    [
        ("actually, where is my order 10234?", "check_order_status"),
        ("can I return the shoes too?", "request_refund"),
        ("where is my refund", "check_refund_status"),
        ("has my order shipped yet", "check_order_status"),
        ("oh and can you change my delivery address", "change_shipping_address"),
        ("please cancel my order", "cancel_order"),
        ("also, I want to return order 10003", "request_refund"),
        ("I need an invoice for order 10234", "request_invoice"),
        ("the link was broken, can you send me the invoice again", "request_invoice"),
        ("I was charged twice so could you check it", "report_payment_issue"),
        ("do you ship to Norway?", "faq"),
        ("how long do returns take", "faq"),
        ("what else can you do", "help"),
        ("can I speak to a human", "human_handoff"),
        ("agent", "human_handoff"),
        ("a real person please", "human_handoff"),
        ("I want to talk to someone", "human_handoff"),
        ("change my email address", "update_account"),
    ],
)
def test_a_question_or_request_with_a_request_intent_is_a_new_request(text, intent):
    assert csat.is_new_request(message(text, intent))


@pytest.mark.parametrize(
    "text, intent",
    [
        ("the tracking link didn't work", "check_order_status"),
        ("refund took too long", "check_refund_status"),
        ("order 10234 arrived late", "check_order_status"),
        ("the refund was slow and did not arrive on time", "check_refund_status"),
        ("my payment failed", "report_payment_issue"),
        ("I couldn't find where to change my address", "change_shipping_address"),
        ("the invoice email never came", "request_invoice"),
        ("it would be nice to see the refund date", "check_refund_status"),
        ("please make the tracking link easier to find", "check_order_status"),
        ("you should have let me talk to a person sooner", "human_handoff"),
        ("cancelling was confusing", "cancel_order"),
        ("return process was fine", "request_refund"),
        ("hard to find the returns page", "faq"),
        ("why do you care?", "out_of_scope"),
        ("what a great bot", "nlu_fallback"),
        ("is this thing even on?", "bot_challenge"),
    ],
)
def test_feedback_even_about_an_order_or_a_refund_stays_the_comment(text, intent):
    assert not csat.is_new_request(message(text, intent))


def test_a_request_intent_read_without_confidence_stays_the_comment():
    limit = csat.REQUEST_CONFIDENCE
    assert csat.is_new_request(message("where is my refund?", "check_refund_status", limit))
    assert not csat.is_new_request(message("where is my refund?", "check_refund_status", limit - 0.01))
    assert not csat.is_new_request(message("agent", "human_handoff", limit - 0.01))


def test_a_bare_order_number_is_an_order_number_and_a_number_in_words_is_a_comment():
    for text in ("10234", "order #10234", "order 10234"):
        assert csat.is_new_request(message(text, "inform", entities=[entity("order_id", "10234", text)]))
    text = "10234 was late"
    assert not csat.is_new_request(message(text, "inform", entities=[entity("order_id", "10234", text)]))
    assert not csat.is_new_request(message("42", "inform"))  # no order number found in it


def test_the_request_intents_are_the_domains():
    assert set(DOMAIN["intents"]) >= csat.REQUEST_INTENTS


def comment_question(text: str, intent: str, **kwargs) -> object:
    tracker = make_tracker(
        text,
        intent,
        slots={"csat_stage": "comment", "csat_comment": text, "requested_slot": "csat_comment", "csat_asked": True},
        history=[bot("utter_ask_csat_comment")],
        active_loop="csat_comment_form",
        **kwargs,
    )
    tracker.events.append(slot("csat_comment", text))  # Rasa's from_text mapping, after the message
    return tracker


def test_a_new_request_closes_the_comment_question_and_rejects_the_form():
    tracker = comment_question("actually, where is my order 10234?", "check_order_status")
    messages, events = run(csat.ValidateCsatCommentForm(), tracker)
    assert messages == []
    assert slot_events(events) == {"csat_comment": None, "csat_stage": None, "requested_slot": None}
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert events[-1]["event"] == "action_execution_rejected" and events[-1]["name"] == "csat_comment_form"
    assert "csat_asked" not in slot_events(events)  # the rating question is never asked again


def test_feedback_at_the_comment_question_is_stored_and_the_form_is_not_rejected():
    tracker = comment_question("the tracking link didn't work", "check_order_status")
    _, events = run(csat.ValidateCsatCommentForm(), tracker)
    assert slot_events(events)["csat_comment"] == "the tracking link didn't work"
    assert not any(e["event"] in ("action_execution_rejected", "active_loop") for e in events)
