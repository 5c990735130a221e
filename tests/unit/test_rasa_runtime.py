"""`python -m rasa_runtime` is the Rasa CLI with the runtime applied, and the conversation tests go through it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from tests.support.processes import REPO
from tests.unit.test_tensorflow_stand_in import RULES_ONLY, packed_model


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_conversation_tests_run_rasa_test_core_through_the_runtime():
    script = load_script("conversation_tests")
    command = script.command()
    assert command[:5] == [sys.executable, "-m", "rasa_runtime", "test", "core"]
    assert command[command.index("--stories") + 1] == "tests/conversations"
    assert command[command.index("--model") + 1] == "models/larkspur.tar.gz"
    assert "python -m rasa_runtime test core" in script.__doc__


def test_make_shell_runs_rasa_shell_through_the_runtime():
    shell = (REPO / "scripts" / "shell.sh").read_text()
    assert "$BIN/python -m rasa_runtime shell --model models/larkspur.tar.gz" in shell
    assert "$BIN/rasa " not in shell


def run_runtime(args, **env):
    return subprocess.run(
        [sys.executable, "-m", "rasa_runtime", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "", **env},
    )


def test_the_runtime_passes_any_rasa_command_line_and_logs_what_it_applied(tmp_path):
    model = packed_model(tmp_path / "free.tar.gz", RULES_ONLY)
    result = run_runtime(["run", "--model", str(model), "--help"], RASA_PATCH_GRAPH_RUNNER="off", LOG_LEVEL="WARNING")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "usage: rasa run" in result.stdout  # Rasa's own argument parser answered
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [line for line in lines if line["name"] == "rasa_runtime"]
    assert len(started) == 1, lines  # logged although LOG_LEVEL is WARNING
    assert started[0]["patches"] == {
        "validate_action_responses_once": True,
        "resolve_event_types_once": True,
        "run_graphs_without_dask": False,
        "limit_abuse": True,
        "mask_secrets_before_saving": True,
        "answer_when_action_server_fails": True,
        "answer_errors_as_json": True,
        "keep_turns_flat": True,
        "export_metrics": True,
        "answer_retries_from_the_store": True,
    }
    assert started[0]["tensorflow_stand_in"] == "installed" and started[0]["command"] == "run"
    assert "RASA_PATCH_VALIDATE_ONCE=on RASA_PATCH_EVENT_TYPES=on RASA_PATCH_GRAPH_RUNNER=off" in started[0]["message"]


def test_a_misspelt_switch_stops_the_runtime_before_rasa_starts():
    result = run_runtime(["--version"], RASA_PATCH_EVENT_TYPES="of")
    assert result.returncode == 1
    assert "RASA_PATCH_EVENT_TYPES='of': a patch switch is on or off" in result.stderr
    assert "Rasa Version" not in result.stdout
