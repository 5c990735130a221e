"""The project's NLU components: shapes, intent and FAQ-topic prediction, the output Rasa reads, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.intent_classifier import RETRIEVAL_RANKING, SparseIntentClassifier
from nlu_components.retrieval_selector import RetrievalResponseSelector
from nlu_components.text_shapes import shape_text

EXAMPLES = {
    "check_order_status": [
        "where is my order",
        "has 10234 shipped yet?",
        "status of order 10871 please",
        "when will my parcel arrive",
        "track my package",
        "is my order on its way",
    ],
    "greet": ["hi", "hello there", "good morning", "hey", "hiya", "hello!"],
    "faq/refund_policy": [
        "what is your refund policy",
        "how do refunds work",
        "refund rules?",
        "can I get my money back in general",
        "what's the policy on refunds",
        "refund policy",
    ],
    "faq/delivery_time": [
        "how long does delivery take",
        "delivery time to germany",
        "how many days to ship",
        "how fast is shipping",
        "when do orders usually arrive",
        "shipping duration",
    ],
}
RESPONSES = {
    "utter_faq/refund_policy": [{"text": "Refunds within 30 days."}],
    "utter_faq/delivery_time": [{"text": "2-5 business days."}],
}


def training_data() -> TrainingData:
    messages = []
    for label, texts in EXAMPLES.items():
        intent = label.split("/")[0]
        for text in texts:
            data = {"text": text, "intent": intent}
            if "/" in label:
                data["intent_response_key"] = label
            messages.append(Message(data=data))
    return TrainingData(messages, responses=RESPONSES)


@pytest.fixture
def trained(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = SparseIntentClassifier.create({}, storage, Resource("classifier"), context)
    selector = RetrievalResponseSelector.create({}, storage, Resource("selector"), context)
    data = training_data()
    classifier.train(data)
    selector.train(data)
    return storage, context, classifier, selector


def parse(classifier, selector, text):
    message = Message(data={"text": text})
    selector.process(classifier.process([message]))
    return message


def test_shapes_replace_values_that_change_in_every_message():
    assert shape_text("Has #10234 shipped?") == "has  ordernumber  shipped?"
    assert shape_text("code 123456") == "code  onetimecode "
    assert shape_text("I'm Jo.Doe+x@mail.example") == "i'm  emailaddress "
    assert shape_text("3 chairs, 1234567 and 12.50") == "0 chairs, 0 and 0.0"


def test_an_unseen_order_number_is_the_same_question(trained):
    _, _, classifier, selector = trained
    message = parse(classifier, selector, "has 99999 shipped yet?")
    assert message.get("intent")["name"] == "check_order_status"


def test_faq_is_reported_as_one_intent_with_its_topic(trained):
    _, _, classifier, selector = trained
    message = parse(classifier, selector, "how long does shipping take to germany")
    intent = message.get("intent")
    ranking = message.get("intent_ranking")
    assert intent["name"] == "faq"
    assert {entry["name"] for entry in ranking} == {"check_order_status", "greet", "faq"}
    assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0)
    topics = message.get(RETRIEVAL_RANKING)["faq"]
    assert topics[0]["intent_response_key"] == "faq/delivery_time"
    assert sum(topic["confidence"] for topic in topics) == pytest.approx(1.0)  # given the message is faq


def test_the_selector_writes_what_rasas_retrieval_action_reads(trained):
    _, _, classifier, selector = trained
    message = parse(classifier, selector, "what's your policy for refunds")
    output = message.as_dict(only_output_properties=True)
    selected = output["response_selector"]
    assert selected["all_retrieval_intents"] == ["faq"]
    prediction = selected["faq"]["response"]
    assert prediction["utter_action"] == "utter_faq/refund_policy"
    assert prediction["intent_response_key"] == "faq/refund_policy"
    assert prediction["responses"] == RESPONSES["utter_faq/refund_policy"]
    assert next(r["intent_response_key"] for r in selected["faq"]["ranking"]) == "faq/refund_policy"
    assert RETRIEVAL_RANKING not in output  # internal hand-over, not part of the parse result


def test_a_message_outside_any_retrieval_intent_still_gets_topics_for_rasa(trained):
    _, _, classifier, selector = trained
    message = parse(classifier, selector, "hello")
    assert message.get("intent")["name"] == "greet"
    # Rasa only uses the selection when the intent is `faq`; it is still written, as ResponseSelector does.
    assert "faq" in message.get("response_selector")


def test_a_trained_model_loads_and_predicts_the_same(trained):
    storage, context, classifier, selector = trained
    loaded = SparseIntentClassifier.load({}, storage, Resource("classifier"), context)
    loaded_selector = RetrievalResponseSelector.load({}, storage, Resource("selector"), context)
    text = "refund rules for a sofa?"
    before, after = parse(classifier, selector, text), parse(loaded, loaded_selector, text)
    assert after.get("intent") == before.get("intent")
    assert after.get("response_selector") == before.get("response_selector")


def test_a_model_file_with_unexpected_types_is_refused(tmp_path):
    from collections import OrderedDict

    import skops.io as sio

    storage = LocalModelStorage(tmp_path)
    with storage.write_to(Resource("classifier")) as directory:
        sio.dump({"model": OrderedDict(a=1)}, directory / "sparse_intent_classifier.skops")
    with pytest.raises(ValueError, match="does not expect"):
        SparseIntentClassifier.load({}, storage, Resource("classifier"), ExecutionContext(GraphSchema({}), "t"))


def test_an_untrained_classifier_predicts_nothing(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = SparseIntentClassifier.load({}, storage, Resource("never_trained"), context)
    message = Message(data={"text": "hello"})
    classifier.process([message])
    assert message.get("intent") is None


@pytest.mark.parametrize("text", ["🦊", "😭😭", "   ", "ŝŝŝ"])
def test_a_message_with_nothing_the_model_knows_gets_no_confidence(trained, text):
    # A linear model answers even for a vector of zeros (its biases): an unseen emoji used to be a
    # confident "yes". With confidence 0 the FallbackClassifier asks the shopper to rephrase.
    _, _, classifier, selector = trained
    message = parse(classifier, selector, text)
    assert message.get("intent")["confidence"] == 0.0
    assert all(entry["confidence"] == 0.0 for entry in message.get("intent_ranking"))


def test_a_typo_without_any_known_word_still_counts_as_evidence(trained):
    _, _, classifier, selector = trained
    message = parse(classifier, selector, "helo thre")
    assert message.get("intent")["name"] == "greet"
    assert message.get("intent")["confidence"] > 0.35


def test_the_fast_probabilities_are_scikit_learns(trained):
    _, _, classifier, _ = trained
    texts = ["where is my order 12345", "refund rules?", "hiya", "🦊", "Where's my REFUND for #10001, a@b.co?", ""]
    features, evidence = classifier._features(texts)
    expected = classifier.parts["model"].predict_proba(features)
    assert classifier._probabilities(features) == pytest.approx(expected, abs=1e-12)
    # One message at a time, without sparse matrices: the same numbers, and zeros without evidence.
    one_by_one = np.array([classifier._message_probabilities(text) for text in texts])
    assert one_by_one == pytest.approx(expected * evidence[:, None], abs=1e-12)
    assert not one_by_one[3].any() and not one_by_one[5].any() and one_by_one[0].sum() == pytest.approx(1.0)
