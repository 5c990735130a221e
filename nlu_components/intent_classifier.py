"""Intent classification on TF-IDF word and character n-grams, and a sentence embedding, by logistic regression.

Why not Rasa's own LogisticRegressionClassifier on CountVectorsFeaturizer output: on our held-out split this
classifier scores a few points more macro F1 (docs/nlu.md), for three reasons that
Rasa's component cannot be configured to have:
- sublinear TF-IDF weights instead of raw counts, so frequent filler words ("please", "my") weigh less;
- order numbers, codes and emails become one placeholder word each (`text_shapes.shape_text`);
- it learns each FAQ topic (`faq/refund_policy`, ...) as its own class and reports `faq` with the summed
  probability, so a topic that sits next to a business intent (refund policy / refund status) is not pulled
  into it by the other 16 topics.
It also hands the topic probabilities to `RetrievalResponseSelector`, so the FAQ answer needs no second model,
and it featurises text itself, so the pipeline needs no CountVectorsFeaturizer.

When a `SentenceEncoderFeaturizer` runs before it, the message's sentence embedding joins the n-grams as a third
block of features (scaled by `dense_weight`), so words the training data never used still land near the intent
they mean (docs/nlu.md). Evidence stays lexical: a message with nothing the n-grams know gets no confidence.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import numpy as np
import scipy.sparse
import scipy.special
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu_components.sentence_features import sentence_embedding
from nlu_components.text_shapes import shape_text

logger = logging.getLogger(__name__)

# Message property (not part of the parse output) that carries the topic probabilities of each retrieval
# intent to RetrievalResponseSelector: {"faq": [{"intent_response_key": "faq/x", "confidence": p}, ...]}.
RETRIEVAL_RANKING = "retrieval_intent_ranking"
MODEL_FILE = "sparse_intent_classifier.skops"
# What the model file may contain; anything else is refused at load time (skops' safe loading).
TRUSTED_TYPES = [
    "builtins.dict",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
]


class UnexpectedModelContent(ValueError):
    """A model file holds object types the classifier never writes: refused rather than loaded."""


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SparseIntentClassifier(GraphComponent, IntentClassifier):
    """Predicts the intent, and each retrieval intent's sub-intent, from word and character n-grams."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Settings chosen by cross-validation of our data (scripts/evaluate_nlu.py); see the module docstring."""
        return {
            "word_max_ngram": 2,
            "char_max_ngram": 4,
            # Weak regularisation: most intents have 25-150 short examples and few shared n-grams.
            "C": 100.0,
            "max_iter": 5000,
            "ranking_length": 10,
            # Weight of the sentence embedding against the two TF-IDF blocks (each block has length 1).
            "dense_weight": 1.0,
            "random_state": 42,
        }

    @staticmethod
    def required_packages() -> list[str]:
        """scikit-learn and skops come with Rasa."""
        return ["sklearn", "skops"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        parts: dict[str, Any] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.parts = parts  # {"words": TfidfVectorizer, "chars": TfidfVectorizer, "model": LogisticRegression}
        if parts:
            self._prepare()

    def _trained(self) -> dict[str, Any]:
        """The trained parts, for the methods that run only after `train` or `load` set them."""
        if self.parts is None:
            raise RuntimeError("the intent classifier was used before it was trained or loaded")
        return self.parts

    def _prepare(self) -> None:
        """Precompute what every prediction reads, so a message costs a few dictionary look-ups and one small
        product, with no sparse matrices and no copies.

        scikit-learn's predict_proba multiplies by `coef_.T`, a transposed view that scipy copies whole
        (all classes × all features) on every call; and TfidfVectorizer.transform builds and
        validates sparse matrices, which for one short message costs more than the arithmetic.
        `_message_probabilities` computes the same numbers (a unit test holds them to scikit-learn's within
        1e-12).
        """
        parts = self._trained()
        model = parts["model"]
        self._weights = np.ascontiguousarray(model.coef_.T)
        offset = len(parts["words"].vocabulary_)
        self._blocks = [
            (vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, shift)
            for vectorizer, shift in ((parts["words"], 0), (parts["chars"], offset))
        ]
        # Columns after the two n-gram blocks hold the sentence embedding, when the model was trained with one.
        self._dense_start = offset + len(parts["chars"].vocabulary_)
        self._dense_size = self._weights.shape[0] - self._dense_start
        # Per feature column: is it evidence? Every word n-gram is; a character n-gram only if it holds more
        # than spaces (see `_features`); an embedding never is.
        self._informative = np.concatenate(
            [
                np.ones(offset, dtype=bool),
                _informative_mask(parts["chars"]),
                np.zeros(self._dense_size, dtype=bool),
            ]
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SparseIntentClassifier:
        """An untrained classifier (Rasa's GraphComponent contract)."""
        return cls(config, model_storage, resource)

    def _vectorizers(self) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        words = TfidfVectorizer(
            ngram_range=(1, self.config["word_max_ngram"]),
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            lowercase=False,
        )
        chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, self.config["char_max_ngram"]), sublinear_tf=True, lowercase=False
        )
        return words, chars

    def _dense_block(self, embeddings: list[np.ndarray | None], size: int) -> scipy.sparse.csr_matrix | None:
        """The scaled embeddings as sparse rows, or None for a model without them."""
        if not size:
            return None
        rows = [np.zeros(size) if vector is None else vector for vector in embeddings]
        return scipy.sparse.csr_matrix(np.vstack(rows) * self.config["dense_weight"])

    def _features(
        self, texts: list[str], embeddings: list[np.ndarray | None] | None = None
    ) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
        """The feature rows, and whether each message had anything the model knows besides spaces.

        A message of only unknown characters (an emoji never seen, a script we have no examples in) has no
        evidence at all, and a linear model would still answer with its biases (it said `affirm`, confidently, for
        any unseen emoji). Such messages get confidence 0, so the FallbackClassifier asks instead.
        """
        shaped = [shape_text(text) for text in texts]
        parts = self._trained()
        blocks = [parts["words"].transform(shaped), parts["chars"].transform(shaped)]
        dense = self._dense_block(embeddings or [None] * len(texts), self._dense_size)
        features = scipy.sparse.hstack(blocks + ([dense] if dense is not None else [])).tocsr()
        evidence = np.asarray(features @ self._informative.astype(float)).ravel() > 0
        return features, evidence

    def _probabilities(self, features: scipy.sparse.csr_matrix) -> np.ndarray:
        """What `predict_proba` gives (softmax of the linear scores), from the precomputed weights."""
        model = self._trained()["model"]
        if model.coef_.shape[0] == 1:  # two classes: scikit-learn's binary (sigmoid) model
            return model.predict_proba(features)
        return scipy.special.softmax(np.asarray(features @ self._weights) + model.intercept_, axis=1)

    def _message_probabilities(self, text: str, embedding: np.ndarray | None = None) -> np.ndarray:
        """`_probabilities(_features([text], [embedding]))[0]` with evidence applied, without building sparse
        matrices: per vectorizer, sublinear TF times IDF, L2-normalised, then the rows of the weights it selects;
        plus the embedding times its block of the weights."""
        model = self._trained()["model"]
        if model.coef_.shape[0] == 1:
            features, evidence = self._features([text], [embedding])
            return self._probabilities(features)[0] * evidence[0]
        shaped = shape_text(text)
        indices: list[int] = []
        values: list[np.ndarray] = []
        for analyzer, vocabulary, idf, shift in self._blocks:
            counts: dict[int, int] = defaultdict(int)
            for gram in analyzer(shaped):
                column = vocabulary.get(gram)
                if column is not None:
                    counts[column] += 1
            if not counts:
                continue
            columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            weights = (np.log(np.fromiter(counts.values(), dtype=float, count=len(counts))) + 1.0) * idf[columns]
            values.append(weights / np.sqrt(weights @ weights))
            indices.extend(columns + shift)
        columns = np.asarray(indices, dtype=np.intp)
        if not self._informative[columns].any():
            return np.zeros(len(model.classes_))
        scores = np.concatenate(values) @ self._weights[columns] + model.intercept_
        if self._dense_size and embedding is not None:
            scores += (embedding * self.config["dense_weight"]) @ self._weights[self._dense_start :]
        return scipy.special.softmax(scores)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit on every example with an intent; a retrieval example's label is its full key (faq/topic)."""
        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        labels = [m.get(INTENT_RESPONSE_KEY) or m.get(INTENT) for m in examples]
        if len(set(labels)) < 2:
            logger.warning("SparseIntentClassifier needs at least two intents to train; it will predict nothing.")
            return self._resource
        shaped = [shape_text(m.get(TEXT)) for m in examples]
        words, chars = self._vectorizers()
        blocks = [words.fit_transform(shaped), chars.fit_transform(shaped)]
        embeddings = [sentence_embedding(m) for m in examples]
        if any(vector is not None for vector in embeddings):
            size = next(len(vector) for vector in embeddings if vector is not None)
            blocks.append(self._dense_block(embeddings, size))
        features = scipy.sparse.hstack(blocks).tocsr()
        model = LogisticRegression(
            C=self.config["C"],
            max_iter=self.config["max_iter"],
            class_weight="balanced",
            random_state=self.config["random_state"],
        )
        model.fit(features, labels)
        self.parts = {"words": words, "chars": chars, "model": model}
        self._prepare()
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Set `intent` and `intent_ranking`, and the topic ranking of each retrieval intent."""
        if not self.parts or not messages:
            return messages
        probabilities = [self._message_probabilities(m.get(TEXT) or "", sentence_embedding(m)) for m in messages]
        labels = self.parts["model"].classes_
        for message, row in zip(messages, probabilities, strict=True):
            intents: dict[str, float] = defaultdict(float)
            topics: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for label, p in zip(labels, row, strict=True):
                intent = label.split("/", 1)[0]
                intents[intent] += float(p)
                if "/" in label:
                    topics[intent].append({INTENT_RESPONSE_KEY: label, "confidence": float(p)})
            ranking: list[dict[str, Any]] = sorted(
                ({"name": name, "confidence": p} for name, p in intents.items()), key=lambda entry: -entry["confidence"]
            )
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[: self.config["ranking_length"]], add_to_output=True)
            message.set(
                RETRIEVAL_RANKING,
                {intent: _conditional(entries, intents[intent]) for intent, entries in topics.items()},
            )
        return messages

    def persist(self) -> None:
        """Save the vectorizers and the model with skops (no pickle: a model file cannot run code)."""
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.parts, directory / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SparseIntentClassifier:
        """Load a trained classifier; an untrained one (no file) predicts nothing, as Rasa's own do."""
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / MODEL_FILE
                if not path.exists():
                    return cls(config, model_storage, resource)
                untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
                if untrusted:
                    raise UnexpectedModelContent(
                        f"{path} contains types this component does not expect: {sorted(untrusted)}"
                    )
                parts = sio.load(path, trusted=TRUSTED_TYPES)
        except UnexpectedModelContent:
            raise
        except ValueError:  # Rasa's model storage: no such resource
            logger.debug(f"No trained {cls.__name__} in resource '{resource.name}'.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, parts)


def _informative_mask(chars: TfidfVectorizer) -> np.ndarray:
    """True for each character n-gram that contains something other than spaces."""
    mask = np.zeros(len(chars.vocabulary_), dtype=bool)
    mask[[index for gram, index in chars.vocabulary_.items() if gram.strip()]] = True
    return mask


def _conditional(entries: list[dict[str, Any]], total: float) -> list[dict[str, Any]]:
    """Topic probabilities given the retrieval intent, best first."""
    total = total or 1.0
    ranked = [{**entry, "confidence": entry["confidence"] / total} for entry in entries]
    return sorted(ranked, key=lambda entry: -entry["confidence"])
