"""The launcher's own rules: ports from the environment, the action URL following ACTIONS_PORT, the state
file that tells a second `make run` and `make stop` what is running, and stopping by PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from launcher.services import StackSettings, endpoints_for, stack_plan
from launcher.supervisor import StateFile, pid_alive, stop_pid


def test_embedded_defaults_need_no_environment():
    settings = StackSettings.from_env({})
    assert (settings.demoshop_port, settings.actions_port, settings.rasa_port, settings.webchat_port) == (
        8081,
        5055,
        5005,
        8080,
    )
    assert settings.webchat_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("value", ["eighty", "0", "70000", "-1"])
def test_a_bad_port_is_refused_with_its_name(value):
    with pytest.raises(ValueError, match="RASA_PORT"):
        StackSettings.from_env({"RASA_PORT": value})


def test_the_action_url_follows_actions_port(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        'action_endpoint:\n  url: "http://127.0.0.1:5055/webhook"\n'
        "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
        "lock_store:\n  type: in_memory\n"
    )
    moved = endpoints_for(
        StackSettings.from_env({"ACTIONS_PORT": "6000", "RASA_ENDPOINTS": str(endpoints)}), tmp_path / "state"
    )
    config = yaml.safe_load(moved.read_text())
    assert config["action_endpoint"]["url"] == "http://127.0.0.1:6000/webhook"
    assert config["lock_store"] == {"type": "in_memory"}
    same = endpoints_for(StackSettings.from_env({"RASA_ENDPOINTS": str(endpoints)}), tmp_path / "state")
    assert same == endpoints


def test_a_remote_action_server_is_left_alone(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        'action_endpoint:\n  url: "http://actions.internal:5055/webhook"\n'
        "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
    )
    settings = StackSettings.from_env({"ACTIONS_PORT": "6000", "RASA_ENDPOINTS": str(endpoints)})
    assert endpoints_for(settings, tmp_path) == endpoints


def test_an_endpoints_file_without_the_token_header_gets_one_rasa_expands(tmp_path, monkeypatch):
    from rasa.core.utils import read_endpoints_from_path

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text('action_endpoint:\n  url: "http://127.0.0.1:5055/webhook"\n')
    given = endpoints_for(StackSettings.from_env({"RASA_ENDPOINTS": str(endpoints)}), tmp_path / "state")
    assert given != endpoints
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "the-token-rasa-sends-0123456789")
    action = read_endpoints_from_path(given).action
    assert action.headers == {"Authorization": "Bearer the-token-rasa-sends-0123456789"}


def test_the_plan_starts_five_services_with_the_widget_as_the_only_cors_origin(tmp_path):
    plan = stack_plan(StackSettings.from_env({"WEBCHAT_PORT": "8090", "RASA_AUTH_TOKEN": "s3cret"}), tmp_path)
    assert [spec.name for spec in plan] == ["demoshop", "actions", "rasa", "webchat", "analytics"]
    assert plan[4].env["ANALYTICS_EVENTS_DB"].endswith("var/rasa-events.sqlite") and plan[4].env["REPORT_TOKEN"]
    rasa = plan[2]
    assert rasa.command[rasa.command.index("--cors") + 1] == "http://127.0.0.1:8090"
    assert rasa.command[rasa.command.index("--auth-token") + 1] == "s3cret"
    assert rasa.health_path == "/status?token=s3cret"  # Rasa 3.6 takes its token from the query only
    assert plan[3].env["RASA_PUBLIC_URL"] == "http://127.0.0.1:5005"


def test_a_stale_state_file_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = StateFile(tmp_path / "stack.json")
    state.write({"launcher_pid": dead.pid, "services": {"rasa": {"pid": dead.pid, "url": "x", "log": "y"}}})
    assert state.running() is None
    assert not state.path.exists()


def test_a_live_state_file_is_reported(tmp_path):
    state = StateFile(tmp_path / "stack.json")
    state.write({"launcher_pid": os.getpid(), "services": {}})
    assert state.running()["launcher_pid"] == os.getpid()
    assert json.loads(state.path.read_text())["launcher_pid"] == os.getpid()


def test_stop_pid_ends_a_process_group_that_ignores_nothing():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    assert pid_alive(child.pid)
    assert stop_pid(child.pid, timeout=5)
    child.wait(5)
    assert not pid_alive(child.pid)
    assert stop_pid(child.pid) is False


def test_stop_pid_kills_what_ignores_sigterm():
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    assert stop_pid(child.pid, timeout=0.5)
    assert child.wait(5) == -9


def test_log_lines_that_are_not_json_are_wrapped_and_json_lines_pass():
    from launcher.supervisor import as_json_line

    kept = as_json_line(b'{"level": "INFO", "message": "ready"}\n', "rasa.console")
    assert json.loads(kept) == {"level": "INFO", "message": "ready"}
    wrapped = json.loads(as_json_line(b"2026-11-26 W tensorflow/py_utils.cc:38] TF-TRT Warning\n", "rasa.console"))
    assert wrapped["name"] == "rasa.console" and wrapped["message"].endswith("TF-TRT Warning")
    assert json.loads(as_json_line(b"[1, 2]\n", "x"))["message"] == "[1, 2]"  # JSON, but not a log record
