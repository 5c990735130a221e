"""The TensorFlow stand-in is used only for models it is safe for, and fails loudly if TensorFlow is called."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap

from launcher import tensorflow_stand_in as stand_in
from tests.support.processes import REPO


def packed_model(path, components):
    metadata = {"predict_schema": {"nodes": {f"n{i}": {"uses": name} for i, name in enumerate(components)}}}
    data = json.dumps(metadata).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def test_the_model_argument_is_found_in_a_rasa_command_line():
    assert stand_in.model_argument(["run", "--model", "m.tar.gz", "--port", "1"]) == stand_in.Path("m.tar.gz")
    assert stand_in.model_argument(["run", "-m", "x.tar.gz"]) == stand_in.Path("x.tar.gz")
    assert stand_in.model_argument(["run", "--model=y.tar.gz"]) == stand_in.Path("y.tar.gz")
    assert stand_in.model_argument(["run"]) is None


def test_a_model_with_a_tensorflow_component_keeps_tensorflow(tmp_path):
    model = packed_model(tmp_path / "m.tar.gz", ["rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizer",
                                                 "rasa.nlu.classifiers.diet_classifier.DIETClassifier"])
    assert stand_in.needs_tensorflow(stand_in.components_of(model)) == [
        "rasa.nlu.classifiers.diet_classifier.DIETClassifier"]
    assert stand_in.install_if_safe(["run", "--model", str(model)]) is False


def test_an_unreadable_or_missing_model_keeps_tensorflow(tmp_path):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar file")
    assert stand_in.install_if_safe(["run", "--model", str(broken)]) is False
    assert stand_in.install_if_safe(["run", "--model", str(tmp_path / "missing.tar.gz")]) is False
    assert stand_in.install_if_safe(["run"]) is False


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={"RASA_TELEMETRY_ENABLED": "false", "PATH": ""})


def test_under_the_stand_in_rasa_imports_and_a_tensorflow_call_fails_loudly():
    result = run_python("""
        from launcher.tensorflow_stand_in import install
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
        from launcher.tensorflow_stand_in import install
        try:
            install()
        except RuntimeError as error:
            print("refused:", error)
    """)
    assert "refused: the real tensorflow is already imported" in result.stdout, result.stderr[-3000:]
