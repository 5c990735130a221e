"""Guards the sentence encoder (nlu_components/sentence_encoder.py) and its Rasa featurizer: only the pinned
files run, the vectors are the model's (normalised, batched or one by one alike, semantic), the re-quantised
model stays close to the package's, a trained featurizer carries and checks its own model file, and the
classifier's one-message path gives scikit-learn's numbers with the embedding joined."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from nlu_components.intent_classifier import SparseIntentClassifier
from nlu_components.sentence_encoder import (
    SOURCE_SHA256,
    TOKENIZER,
    ModelChecksumError,
    SentenceEncoder,
    quantize_for_cpu,
    sha256_of,
    source_model,
    verified,
)
from nlu_components.sentence_features import MODEL_FILE, SentenceEncoderFeaturizer, sentence_embedding
from tests.unit.test_nlu_components import training_data


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(source_model(), SOURCE_SHA256)


@pytest.fixture(scope="module")
def featurizer(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("encoder"))
    context = ExecutionContext(GraphSchema({}), "test")
    SentenceEncoderFeaturizer.create({}, storage, Resource("encoder"), context).train(training_data())
    return storage, context, SentenceEncoderFeaturizer.load({}, storage, Resource("encoder"), context)


def test_the_package_model_is_the_pinned_file():
    assert sha256_of(source_model()) == SOURCE_SHA256


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path):
    changed = tmp_path / "tokenizer.json"
    changed.write_bytes(TOKENIZER.read_bytes().replace(b'"[UNK]"', b'"[UNX]"', 1))
    with pytest.raises(ModelChecksumError, match="expected"):
        verified(changed, sha256_of(TOKENIZER))
    with pytest.raises(ModelChecksumError):
        SentenceEncoder(changed, SOURCE_SHA256)


def test_vectors_are_normalised_and_the_same_batched_or_one_by_one(encoder):
    texts = ["where is my refund?", "", "I returned the rug two weeks ago and still no money, order 10042 " * 3]
    batch = encoder.encode(texts)
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    assert np.linalg.norm(batch, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    for text, row in zip(texts, batch, strict=True):
        assert encoder.encode_one(text) == pytest.approx(row, abs=1e-5)


def test_a_cached_vector_is_read_only(encoder):
    first = encoder.encode_one("yes please")
    assert encoder.encode_one("yes please") is first
    with pytest.raises(ValueError):
        first[0] = 1.0


def test_words_never_seen_together_land_near_what_they_mean(encoder):
    refund, reimbursement, weather = encoder.encode(
        ["I want a refund", "I'd like a reimbursement", "what's the weather tomorrow"]
    )
    assert refund @ reimbursement > 0.5 > refund @ weather


def test_the_requantised_model_stays_close_to_the_package_model(tmp_path, encoder):
    target = tmp_path / "quantized.onnx"
    quantize_for_cpu(source_model(), target)
    fast = SentenceEncoder(target, sha256_of(target))
    texts = ["where is my parcel", "can I get my money back for the lamp", "do you ship to Norway?"]
    similarity = np.sum(fast.encode(texts) * encoder.encode(texts), axis=1)
    assert similarity.min() > 0.95


def test_the_featurizer_adds_one_dense_sentence_feature(featurizer):
    _, _, loaded = featurizer
    message = Message(data={"text": "where is my order"})
    loaded.process([message])
    vector = sentence_embedding(message)
    assert vector is not None and vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    empty = Message(data={"text": ""})
    loaded.process([empty])
    assert sentence_embedding(empty) is None


def test_a_trained_model_whose_encoder_file_changed_does_not_load(featurizer, tmp_path):
    storage, context, _ = featurizer
    copy = tmp_path / "copy"
    shutil.copytree(storage._storage_path, copy)
    with (copy / "encoder" / MODEL_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelChecksumError):
        SentenceEncoderFeaturizer.load({}, LocalModelStorage(copy), Resource("encoder"), context)


def test_the_classifier_joins_the_embedding_and_its_fast_path_is_scikit_learns(featurizer, tmp_path):
    _, context, loaded = featurizer
    data = training_data()
    loaded.process_training_data(data)
    classifier = SparseIntentClassifier.create({}, LocalModelStorage(tmp_path), Resource("classifier"), context)
    classifier.train(data)
    assert classifier._dense_size == 384
    texts = ["where is my order 12345", "reimbursement rules?", "hiya", "🦊"]
    messages = [Message(data={"text": text}) for text in texts]
    loaded.process(messages)
    embeddings = [sentence_embedding(message) for message in messages]
    features, evidence = classifier._features(texts, embeddings)
    expected = classifier.parts["model"].predict_proba(features) * evidence[:, None]
    one_by_one = np.array(
        [classifier._message_probabilities(text, vector) for text, vector in zip(texts, embeddings, strict=True)]
    )
    assert one_by_one == pytest.approx(expected, abs=1e-10)
    assert not one_by_one[3].any()  # an unseen emoji: no lexical evidence, no confidence, embedding or not
