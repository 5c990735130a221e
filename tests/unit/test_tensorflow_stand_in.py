"""The TensorFlow stand-in is used only for models it is safe for, and fails loudly if TensorFlow is called."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap

import pytest

from rasa_runtime import tensorflow_stand_in as stand_in
from tests.support.processes import REPO


def packed_model(path, components):
    metadata = {"predict_schema": {"nodes": {f"n{i}": {"uses": name} for i, name in enumerate(components)}}}
    data = json.dumps(metadata).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


PROJECT_COMPONENTS = [
    "nlu_components.intent_classifier.SparseIntentClassifier",
    "nlu_components.retrieval_selector.RetrievalResponseSelector",
    "nlu_components.sentence_features.SentenceEncoderFeaturizer",
]
RULES_ONLY = [
    "rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizer",
    *PROJECT_COMPONENTS,
    "rasa.core.policies.rule_policy.RulePolicy",
]


def test_the_models_are_found_in_a_rasa_command_line():
    Path = stand_in.Path
    assert stand_in.model_arguments(["run", "--model", "m.tar.gz", "--port", "1"]) == [Path("m.tar.gz")]
    assert stand_in.model_arguments(["shell", "-m", "x.tar.gz"]) == [Path("x.tar.gz")]
    assert stand_in.model_arguments(["run", "--model=y.tar.gz"]) == [Path("y.tar.gz")]
    assert stand_in.model_arguments(
        ["test", "core", "--stories", "s", "--model", "a.tar.gz", "b.tar.gz", "--out", "o"]
    ) == [Path("a.tar.gz"), Path("b.tar.gz")]  # compared
    assert stand_in.model_arguments(["run"]) == []


def test_the_project_components_are_tensorflow_free():
    assert stand_in.needs_tensorflow(PROJECT_COMPONENTS) == []


@pytest.mark.slow  # loads the trained model
def test_the_trained_model_runs_without_tensorflow():
    model = REPO / "models" / "larkspur.tar.gz"
    if not model.exists():
        pytest.skip("models/larkspur.tar.gz is missing: run `make train` (make test does)")
    assert stand_in.needs_tensorflow(stand_in.components_of(model)) == [], (
        "a component of config.yml is not on TENSORFLOW_FREE: check it never calls TensorFlow, then add it"
    )


def test_rasa_test_is_stood_in_unless_it_trains_or_a_model_needs_tensorflow(tmp_path, monkeypatch):
    free = str(packed_model(tmp_path / "free.tar.gz", RULES_ONLY))
    diet = str(packed_model(tmp_path / "diet.tar.gz", ["rasa.nlu.classifiers.diet_classifier.DIETClassifier"]))
    installed = []
    monkeypatch.setattr(stand_in, "install", lambda: installed.append(True))
    for name in stand_in.TENSORFLOW_SETTINGS:
        monkeypatch.setenv(name, "1")  # dropped when the stand-in is installed (monkeypatch restores them)
    assert stand_in.install_if_safe(["test", "core", "--stories", "tests/conversations", "--model", free])
    assert stand_in.install_if_safe(["test", "nlu", "--model", free, "--config", "config.yml"])
    assert installed == [True, True]
    assert not any(name in stand_in.os.environ for name in stand_in.TENSORFLOW_SETTINGS)
    assert not stand_in.install_if_safe(["test", "core", "--model", free, diet])  # comparing with a DIET model
    assert not stand_in.install_if_safe(["test", "nlu", "--model", free, "--cross-validation"])
    assert not stand_in.install_if_safe(["test", "nlu", "--model", free, "-c", "a.yml", "b.yml"])  # compare mode
    assert not stand_in.install_if_safe(["test", "nlu", "--model", free, "--config", str(tmp_path)])  # a folder
    assert not stand_in.install_if_safe(["train", "--config", "config.yml"])
    assert installed == [True, True]


def test_the_switch_is_auto_or_off():
    assert stand_in.enabled({}) and stand_in.enabled({"RASA_TENSORFLOW_STAND_IN": "auto"})
    assert not stand_in.enabled({"RASA_TENSORFLOW_STAND_IN": "Off"})
    with pytest.raises(ValueError, match="RASA_TENSORFLOW_STAND_IN='on': use auto or off"):
        stand_in.enabled({"RASA_TENSORFLOW_STAND_IN": "on"})


def test_another_rasa_version_is_refused(monkeypatch, tmp_path):
    assert stand_in.rasa_version() == stand_in.RASA_VERSION == "3.6.21"
    monkeypatch.setattr(stand_in, "rasa_version", lambda: "3.7.0")
    finders = list(stand_in.sys.meta_path)
    with pytest.raises(RuntimeError, match=r"tensorflow_stand_in\.py was written for rasa 3\.6\.21, found 3\.7\.0"):
        stand_in.install()
    model = str(packed_model(tmp_path / "free.tar.gz", RULES_ONLY))
    with pytest.raises(RuntimeError, match=r"written for rasa 3\.6\.21, found 3\.7\.0"):
        stand_in.install_if_safe(["run", "--model", model])  # refused, not silently skipped
    assert stand_in.sys.meta_path == finders


def test_a_model_with_a_tensorflow_component_keeps_tensorflow(tmp_path):
    model = packed_model(
        tmp_path / "m.tar.gz",
        [
            "rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizer",
            "rasa.nlu.classifiers.diet_classifier.DIETClassifier",
        ],
    )
    assert stand_in.needs_tensorflow(stand_in.components_of(model)) == [
        "rasa.nlu.classifiers.diet_classifier.DIETClassifier"
    ]
    assert stand_in.install_if_safe(["run", "--model", str(model)]) is False


def test_an_unreadable_or_missing_model_keeps_tensorflow(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar file")
    assert stand_in.install_if_safe(["run", "--model", str(broken)]) is False
    assert stand_in.install_if_safe(["run", "--model", str(tmp_path / "missing.tar.gz")]) is False
    assert stand_in.install_if_safe(["run"]) is False


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={"RASA_TELEMETRY_ENABLED": "false", "PATH": ""},
    )


def test_under_the_stand_in_rasa_imports_and_a_tensorflow_call_fails_loudly():
    result = run_python("""
        from rasa_runtime.tensorflow_stand_in import install
        install()
        import sys
        import rasa.core.agent, rasa.server
        import rasa.nlu.classifiers.diet_classifier
        import tensorflow as tf
        print("stand-in", type(sys.modules["tensorflow"]).__name__, tf.__version__)
        try:
            tf.constant([1.0])
        except RuntimeError as error:
            print("refused:", error)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "stand-in _StandInModule 2.12.0" in result.stdout
    assert "refused: tensorflow.constant called: TensorFlow was replaced by a stand-in" in result.stdout


def test_installing_after_the_real_tensorflow_is_refused():
    result = run_python("""
        import tensorflow
        from rasa_runtime.tensorflow_stand_in import install
        try:
            install()
        except RuntimeError as error:
            print("refused:", error)
    """)
    assert "refused: the real tensorflow is already imported" in result.stdout, result.stderr[-3000:]
