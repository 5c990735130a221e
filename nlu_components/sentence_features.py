"""A Rasa dense featurizer: each message's sentence embedding (nlu_components/sentence_encoder.py).

It adds one dense *sentence* feature to the message text, the way Rasa's own dense featurizers do, so every
component after it can read it: `SparseIntentClassifier` joins it to its TF-IDF features (and so the FAQ topic
ranking that `RetrievalResponseSelector` reads is semantic too).

The encoder reads the text with order numbers, codes and emails replaced by one placeholder word each
(`text_shapes.shape_text`, as the classifier's n-grams do): a number means nothing to the encoder, and every
"it's 10004" or bare one-time code is then the same message to the encoder's cache of recent messages.

Training writes the served model file (the pinned package's weights, re-quantised for int8 arithmetic on one
core) and its sha256 into the trained model, so serving needs neither the weights package nor `onnx`: only the
file the model carries, checked before it runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.sentence_encoder import SentenceEncoder, quantize_for_cpu, sha256_of, source_model
from nlu_components.text_shapes import shape_text

logger = logging.getLogger(__name__)

MODEL_FILE = "encoder.onnx"
METADATA_FILE = "encoder.json"
ORIGIN = "sentence_encoder"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the all-MiniLM-L6-v2 sentence embedding of the text as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """`quantize`: int8 arithmetic (fast) or the package's file as it is (docs/nlu.md has both)."""
        return {**DenseFeaturizer.get_default_config(), "alias": ORIGIN, "quantize": True, "threads": 1}

    @staticmethod
    def required_packages() -> list[str]:
        """onnxruntime runs the model, tokenizers splits the text."""
        return ["onnxruntime", "tokenizers"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to check beyond Rasa's own checks."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        encoder: SentenceEncoder | None = None,
    ) -> None:
        super().__init__(ORIGIN, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self._encoder = encoder

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """An encoder that has not yet written its model file (Rasa's GraphComponent contract)."""
        return cls(config, model_storage, resource)

    @property
    def encoder(self) -> SentenceEncoder | None:
        """The loaded encoder (None before training)."""
        return self._encoder

    def train(self, training_data: TrainingData) -> Resource:
        """Store the served model file and its checksum in the trained model."""
        source = source_model()
        with self._model_storage.write_to(self._resource) as directory:
            target = Path(directory) / MODEL_FILE
            if self._config["quantize"]:
                quantize_for_cpu(source, target)
            else:
                target.write_bytes(source.read_bytes())
            metadata = {
                "sha256": sha256_of(target),
                "source_sha256": sha256_of(source),
                "quantized": bool(self._config["quantize"]),
            }
            (Path(directory) / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceEncoderFeaturizer:
        """Open the model file the trained model carries, after checking its sha256."""
        merged = {**cls.get_default_config(), **config}
        with model_storage.read_from(resource) as directory:
            metadata = json.loads((Path(directory) / METADATA_FILE).read_text())
            encoder = SentenceEncoder(Path(directory) / MODEL_FILE, metadata["sha256"], threads=merged["threads"])
        return cls(config, model_storage, resource, encoder)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Embed every training example with text, in batches."""
        messages = [message for message in training_data.training_examples if message.get(TEXT)]
        if messages and self._encoder is not None:
            vectors = self._encoder.encode([shape_text(message.get(TEXT)) for message in messages])
            for message, vector in zip(messages, vectors, strict=True):
                self._add(message, vector)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Embed each incoming message (one at a time: a turn carries one)."""
        if self._encoder is None:
            return messages
        for message in messages:
            if message.get(TEXT):
                self._add(message, self._encoder.encode_one(shape_text(message.get(TEXT))))
        return messages

    def _add(self, message: Message, vector: Any) -> None:
        message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, self._identifier))


def sentence_embedding(message: Message) -> Any | None:
    """The message's embedding from this featurizer, as a 1-D array, or None when it has none."""
    for feature in message.features:
        if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE and feature.origin == ORIGIN:
            return feature.features.reshape(-1)
    return None
