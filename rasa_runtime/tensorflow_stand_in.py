"""Run a model that uses no TensorFlow without importing TensorFlow (pinned to rasa 3.6.21).

Rasa imports TensorFlow at module level all over (`rasa.core.policies.policy` → featurizers →
`rasa.utils.train_utils` → `tensorflow`), so even a model whose every component is scikit-learn or rules pays
TensorFlow's memory (docs/performance.md) and seconds of start-up in each serving process. When the model's prediction
graph contains only components on `TENSORFLOW_FREE` (checked in the model's metadata before Rasa is imported),
`install()` puts a stand-in package under the name `tensorflow`: module-level uses (base classes, decorators,
dtypes, type hints) resolve to inert placeholders, and nothing at run time calls them. Any other component, or
a metadata file that cannot be read, keeps the real TensorFlow.

The decision is the command line's: every model it names (`rasa run`/`shell --model`, `rasa test --model`,
which takes several to compare) must be a packed, TensorFlow-free model, and the command must not train one
from a config (`rasa test nlu --cross-validation`, or several configs to compare); `rasa train` names no model,
so it keeps TensorFlow. `rasa test` imports Rasa's TensorFlow modules (TED, DIET) for its reports, which the
stand-in answers like any other module-level use. `RASA_TENSORFLOW_STAND_IN=off` (default `auto`) always
loads the real TensorFlow. Like the patches, it refuses a Rasa version it was not written for.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import json
import logging
import os
import sys
import tarfile
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"  # the Rasa whose modules' TensorFlow uses the placeholders were checked against
# Graph components whose prediction code never calls TensorFlow (rasa 3.6.21; read before adding one).
TENSORFLOW_FREE = frozenset(
    {
        "nlu_components.intent_classifier.SparseIntentClassifier",
        "nlu_components.retrieval_selector.RetrievalResponseSelector",
        "nlu_components.sentence_features.SentenceEncoderFeaturizer",  # ONNX Runtime
        "rasa.core.policies.ensemble.DefaultPolicyPredictionEnsemble",
        "rasa.core.policies.memoization.MemoizationPolicy",
        "rasa.core.policies.memoization.AugmentedMemoizationPolicy",
        "rasa.core.policies.rule_policy.RulePolicy",
        "rasa.graph_components.converters.nlu_message_converter.NLUMessageConverter",
        "rasa.graph_components.providers.domain_provider.DomainProvider",
        "rasa.graph_components.providers.rule_only_provider.RuleOnlyDataProvider",
        "rasa.nlu.classifiers.fallback_classifier.FallbackClassifier",
        "rasa.nlu.classifiers.regex_message_handler.RegexMessageHandler",
        "rasa.nlu.extractors.crf_entity_extractor.CRFEntityExtractor",
        "rasa.nlu.extractors.entity_synonyms.EntitySynonymMapper",
        "rasa.nlu.extractors.regex_entity_extractor.RegexEntityExtractor",
        "rasa.nlu.featurizers.sparse_featurizer.regex_featurizer.RegexFeaturizer",
        "rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizer",
    }
)
STAND_IN_VERSION = "2.12.0"  # what `tensorflow.__version__` reads; the version rasa 3.6.21 pins
# Environment variables Rasa hands to TensorFlow (rasa/constants.py).
TENSORFLOW_SETTINGS = ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS", "TF_GPU_MEMORY_ALLOC")
# TensorFlow and the packages on top of it that Rasa imports directly.
STOOD_IN = ("tensorflow", "keras", "tensorflow_addons", "tensorflow_hub", "tensorflow_text", "tensorflow_probability")
# TensorFlow's own double-underscore namespaces (`tf.__internal__.dispatch`); other dunders are Python's.
_TENSORFLOW_DUNDERS = frozenset({"__internal__", "__operators__", "__compat__"})


def _child(owner: str, name: str) -> type:
    """`owner.name` as a placeholder; Python's own dunders (`__file__`, `__wrapped__`...) stay missing."""
    if name.startswith("__") and name.endswith("__") and name not in _TENSORFLOW_DUNDERS:
        raise AttributeError(name)
    return _Placeholder(f"{owner}.{name}", (_Inert,), {"__module__": "tensorflow"})


def components_of(model: Path) -> list[str]:
    """The component classes of a packed model's prediction graph, from its metadata.json."""
    with tarfile.open(model, "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.lstrip("/") == "metadata.json")
        extracted = archive.extractfile(member)
        if extracted is None:
            raise ValueError("metadata.json is not a regular file")
        metadata = json.load(extracted)
    return sorted({node["uses"] for node in metadata["predict_schema"]["nodes"].values()})


def needs_tensorflow(components: Iterable[str]) -> list[str]:
    """The components not known to be TensorFlow-free (empty: the stand-in is safe)."""
    return sorted(set(components) - TENSORFLOW_FREE)


def option_values(argv: list[str], *names: str) -> list[str]:
    """Every value given to an option (`--model a b`, `-m a`, `--model=a`, repeated or not) on a command line."""
    values: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg in names:
            while index < len(argv) and not argv[index].startswith("-"):
                values.append(argv[index])
                index += 1
        elif any(arg.startswith(f"{name}=") for name in names if name.startswith("--")):
            values.append(arg.split("=", 1)[1])
    return values


def model_arguments(argv: list[str]) -> list[Path]:
    """The models a Rasa command line names (`--model`/`-m`; `rasa test` takes several to compare)."""
    return [Path(value) for value in option_values(argv, "--model", "-m")]


def trains_from_config(argv: list[str]) -> bool:
    """Whether a `rasa test` command line trains models from configs instead of testing the one it names."""
    configs = option_values(argv, "--config", "-c")
    return "--cross-validation" in argv or len(configs) > 1 or any(Path(config).is_dir() for config in configs)


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """`RASA_TENSORFLOW_STAND_IN`: `auto` (the default, also when empty) or `off`; anything else is refused."""
    value = (os.environ if environ is None else environ).get("RASA_TENSORFLOW_STAND_IN", "").strip().lower()
    if value in ("", "auto"):
        return True
    if value == "off":
        return False
    raise ValueError(f"RASA_TENSORFLOW_STAND_IN={value!r}: use auto or off")


def rasa_version() -> str:
    """The installed Rasa's version, read without importing Rasa (which would import TensorFlow)."""
    return importlib.metadata.version("rasa")


class _Placeholder(type):
    """Every attribute of a placeholder is another placeholder class: usable as a base, a type hint, a dtype."""

    def __getattr__(cls, name: str) -> Any:
        return _child(cls.__qualname__, name)

    def __iter__(cls):  # `for device in tf.config.list_physical_devices()` style code sees nothing
        return iter(())


class _Inert(metaclass=_Placeholder):
    """What calling a placeholder gives: only the calls module-level code makes are answered.

    Decorators (`@tf.function`, `@tf.keras.utils.register_keras_serializable(...)`) give back the function
    they wrap, and calls made while modules are imported give an inert object; any other call raises, so code
    that really needs TensorFlow fails loudly instead of computing with placeholders.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]  # `@tf.function` and friends: keep the decorated function as it is
        if not _importing():
            raise RuntimeError(
                f"{cls.__qualname__} called: TensorFlow was replaced by a stand-in in this process "
                "(rasa_runtime.tensorflow_stand_in); run this model with RASA_TENSORFLOW_STAND_IN=off"
            )
        return super().__new__(cls)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]):
            return args[0]  # `@tf.function(jit_compile=True)`: the inert result of the call decorates
        raise RuntimeError("TensorFlow was replaced by a stand-in in this process (rasa_runtime.tensorflow_stand_in)")

    def __getattr__(self, name: str) -> Any:
        return _child(type(self).__qualname__, name)


def _importing() -> bool:
    """Whether a module body is running: a frame of the import system is on the stack."""
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class _StandInModule(types.ModuleType):
    __version__: str  # set by _StandInFinder.create_module

    def __getattr__(self, name: str) -> Any:
        return _child(self.__name__, name)


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of TensorFlow, Keras and their submodules with stand-in modules."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".", 1)[0] in STOOD_IN:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []  # a package, so `import tensorflow.x.y` works
        module.__version__ = STAND_IN_VERSION
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def install() -> None:
    """Make `import tensorflow` return the stand-in (before anything imports the real one), on rasa 3.6.21 only."""
    found = rasa_version()
    if found != RASA_VERSION:
        raise RuntimeError(
            f"rasa_runtime/tensorflow_stand_in.py was written for rasa {RASA_VERSION}, found {found}; "
            "check that the new Rasa's modules still only use TensorFlow at import time and that "
            "every component on TENSORFLOW_FREE is still free of it (or set "
            "RASA_TENSORFLOW_STAND_IN=off)"
        )
    for name in STOOD_IN:
        if name in sys.modules and not isinstance(sys.modules[name], _StandInModule):
            raise RuntimeError(f"the real {name} is already imported; install the stand-in first")
    if not any(isinstance(finder, _StandInFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _StandInFinder())


def install_if_safe(argv: list[str]) -> bool:
    """Install the stand-in when no model the command line names needs TensorFlow; say why not otherwise."""
    models = model_arguments(argv)
    if not models or not all(model.is_file() for model in models):
        logger.info("TensorFlow loaded: no packed model named on the command line to check")
        return False
    if trains_from_config(argv):
        logger.info("TensorFlow loaded: the command trains models from a config")
        return False
    for model in models:
        try:
            missing = needs_tensorflow(components_of(model))
        except (OSError, KeyError, ValueError, StopIteration, tarfile.TarError) as error:
            logger.warning("TensorFlow loaded: cannot read %s's metadata (%s)", model, error)
            return False
        if missing:
            logger.info("TensorFlow loaded: %s uses %s", model, ", ".join(missing))
            return False
    install()
    # Rasa configures TensorFlow's thread pools and GPUs from these at start-up; without TensorFlow they mean
    # nothing, and calling the stand-in outside an import would (rightly) fail.
    for name in TENSORFLOW_SETTINGS:
        os.environ.pop(name, None)
    logger.info("TensorFlow not loaded: no component of %s uses it", ", ".join(map(str, models)))
    return True
