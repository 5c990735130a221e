"""FAQ answers chosen from the topic probabilities SparseIntentClassifier already computed.

Rasa's ResponseSelector trains a second TensorFlow model to pick the FAQ topic. Our intent classifier learns
the topics as classes anyway, so this component only turns its topic ranking into the `response_selector`
output Rasa's retrieval actions (`utter_faq`) and `rasa test` read. Without it, TensorFlow is needed by no
component of the model, which is what makes the Rasa process small (docs/performance.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_DEFAULT_INTENT,
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
)
from rasa.shared.nlu.constants import INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data import util
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.intent_classifier import RETRIEVAL_RANKING

logger = logging.getLogger(__name__)
RESPONSES_FILE = "retrieval_responses.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RetrievalResponseSelector(GraphComponent):
    """Writes Rasa's `response_selector` parse output for a retrieval intent (default: `faq`).

    It must come after SparseIntentClassifier in the pipeline (Rasa's required-components check only sees
    featurizers, so the order is on config.yml): without the classifier's topic ranking it adds nothing.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """`retrieval_intent`: which retrieval intent this selector answers."""
        return {"retrieval_intent": "faq", "ranking_length": 10}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        responses: dict[str, list[dict[str, Any]]] | None = None,
        retrieval_intents: list[str] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.responses = responses or {}
        self.retrieval_intents = retrieval_intents or []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RetrievalResponseSelector:
        """An untrained selector (Rasa's GraphComponent contract)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the retrieval intent's responses, which Rasa's output format carries alongside the topic."""
        intent = self.config["retrieval_intent"]
        self.retrieval_intents = sorted(training_data.retrieval_intents)
        self.responses = {
            key: value
            for key, value in training_data.responses.items()
            if util.template_key_to_intent_response_key(key).split("/", 1)[0] == intent
        }
        if intent not in self.retrieval_intents:
            logger.warning(f"RetrievalResponseSelector: no training examples for retrieval intent '{intent}'.")
        with self._model_storage.write_to(self._resource) as directory:
            (directory / RESPONSES_FILE).write_text(
                json.dumps({"responses": self.responses, "retrieval_intents": self.retrieval_intents})
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RetrievalResponseSelector:
        """Load the responses kept at training time."""
        try:
            with model_storage.read_from(resource) as directory:
                stored = json.loads((directory / RESPONSES_FILE).read_text())
        except (ValueError, FileNotFoundError):
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, stored["responses"], stored["retrieval_intents"])

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the best topic, its responses and the topic ranking, as Rasa's ResponseSelector does."""
        intent = self.config["retrieval_intent"]
        for message in messages:
            ranking = (message.get(RETRIEVAL_RANKING) or {}).get(intent)
            if not ranking:
                continue
            best = ranking[0]
            key = best[INTENT_RESPONSE_KEY]
            utter_action = util.intent_response_key_to_template_key(key)
            prediction = {
                RESPONSE_SELECTOR_PREDICTION_KEY: {
                    RESPONSE_SELECTOR_RESPONSES_KEY: self.responses.get(utter_action, []),
                    PREDICTED_CONFIDENCE_KEY: best["confidence"],
                    INTENT_RESPONSE_KEY: key,
                    RESPONSE_SELECTOR_UTTER_ACTION_KEY: utter_action,
                },
                RESPONSE_SELECTOR_RANKING_KEY: [
                    {
                        "id": None,
                        PREDICTED_CONFIDENCE_KEY: entry["confidence"],
                        INTENT_RESPONSE_KEY: entry[INTENT_RESPONSE_KEY],
                    }
                    for entry in ranking[: self.config["ranking_length"]]
                ],
            }
            properties = message.get(RESPONSE_SELECTOR_PROPERTY_NAME, {})
            properties[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = self.retrieval_intents
            properties[intent if intent else RESPONSE_SELECTOR_DEFAULT_INTENT] = prediction
            message.set(RESPONSE_SELECTOR_PROPERTY_NAME, properties, add_to_output=True)
        return messages
