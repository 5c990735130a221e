"""foundation/: settings from a `.env` file with the environment winning and bad values refused by name, the JSON
log format, and the process helper on real child processes (started, waited for, stopped by PID, or dying)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field

from actions.__main__ import ActionServerSettings
from actions.backends.settings import BackendSettings
from actions.customer_token import CustomerTokenSettings
from analytics.metrics import AnalyticsMetricsSettings
from bench.serve import ServeBenchSettings
from channels.common import ChannelSettings
from channels.sessions import SessionSettings
from conversation_stores.settings import StoreSettings
from demoshop.config import Settings as DemoShopSettings
from foundation import REPO
from foundation.conversation_ref import ConversationRefSettings, conversation_ref, per_install_secret
from foundation.logging import ChildOutput
from foundation.processes import ChildProcess, StartupError, free_port, http_ready, pid_alive, port_in_use, stop_pid
from foundation.settings import LogLevel, Port, ProcessSettings, SettingsError
from launcher.services import StackSettings
from webchat.server import Settings as WebChatSettings

EVERY_PROCESS = (
    DemoShopSettings,
    ActionServerSettings,
    BackendSettings,
    CustomerTokenSettings,
    ChannelSettings,
    WebChatSettings,
    StackSettings,
    ServeBenchSettings,
    ConversationRefSettings,
    SessionSettings,
    StoreSettings,
    AnalyticsMetricsSettings,
)


class ExampleSettings(ProcessSettings):
    """A process's settings as the project declares them, on variables no real process reads."""

    port: Port = Field(8081, env="FOUNDATION_TEST_PORT")
    name: str = Field("shop", env="FOUNDATION_TEST_NAME")
    level: LogLevel = Field("INFO", env="FOUNDATION_TEST_LEVEL")
    api_key: int = Field(1, env="FOUNDATION_TEST_API_KEY")


def variables(settings_class) -> list:
    return [settings_class.variable(name) for name in settings_class.__fields__]


@pytest.fixture
def clean_environment(monkeypatch):
    """No variable of any settings class in the environment, so only the file and the defaults count."""
    for settings_class in (ExampleSettings, *EVERY_PROCESS):
        for variable in variables(settings_class):
            monkeypatch.delenv(variable, raising=False)
    return monkeypatch


# --- settings ---------------------------------------------------------------------------------------------------


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path, clean_environment):
    (tmp_path / ".env").write_text("FOUNDATION_TEST_PORT=9000\nFOUNDATION_TEST_NAME=from-the-file\n")
    clean_environment.chdir(tmp_path)  # `.env` is read from the working directory, as a process started there
    clean_environment.setenv("FOUNDATION_TEST_NAME", "from-the-environment")
    settings = ExampleSettings.from_env()
    assert settings.port == 9000
    assert settings.name == "from-the-environment"
    assert settings.level == "INFO"  # in neither: the default


def test_without_a_dotenv_file_the_defaults_hold(tmp_path, clean_environment):
    clean_environment.chdir(tmp_path)
    assert (ExampleSettings.from_env().port, ExampleSettings.from_env().name) == (8081, "shop")


def test_a_blank_value_counts_as_unset():
    settings = ExampleSettings.from_env({"FOUNDATION_TEST_PORT": "", "FOUNDATION_TEST_NAME": "  "})
    assert (settings.port, settings.name) == (8081, "shop")


@pytest.mark.parametrize(
    "variable,value",
    [("FOUNDATION_TEST_PORT", "eighty"), ("FOUNDATION_TEST_PORT", "70000"), ("FOUNDATION_TEST_LEVEL", "loud")],
)
def test_a_bad_value_is_refused_naming_the_variable_and_the_value(variable, value):
    with pytest.raises(SettingsError) as refused:
        ExampleSettings.from_env({variable: value})
    assert f"{variable}={value!r}" in str(refused.value)


def test_a_bad_value_in_the_dotenv_file_is_refused_too(tmp_path, clean_environment):
    (tmp_path / ".env").write_text("FOUNDATION_TEST_PORT=eighty\n")
    clean_environment.chdir(tmp_path)
    with pytest.raises(SettingsError, match="FOUNDATION_TEST_PORT='eighty'"):
        ExampleSettings.from_env()


def test_a_secret_is_named_but_never_shown():
    with pytest.raises(SettingsError) as refused:
        ExampleSettings.from_env({"FOUNDATION_TEST_API_KEY": "hunter2-not-a-number"})
    assert "FOUNDATION_TEST_API_KEY" in str(refused.value) and "hunter2" not in str(refused.value)
    assert "api_key" not in repr(ExampleSettings.from_env({"FOUNDATION_TEST_API_KEY": "7"}))  # nor in a log line


def test_current_settings_are_read_once_and_follow_a_change_the_process_makes(clean_environment):
    clean_environment.setenv("FOUNDATION_TEST_NAME", "first")
    first = ExampleSettings.current()
    assert ExampleSettings.current() is first and first.name == "first"
    clean_environment.setenv("FOUNDATION_TEST_NAME", "second")  # as a test's monkeypatch does
    assert ExampleSettings.current().name == "second"


def test_a_setting_that_names_no_variable_is_refused_when_declared():
    with pytest.raises(TypeError, match="must name its environment variable"):

        class Careless(ProcessSettings):
            host: str = "127.0.0.1"


def test_every_variable_of_every_process_is_in_env_example():
    listed = {
        line.split("=", 1)[0]
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    unlisted = {v for settings_class in EVERY_PROCESS for v in variables(settings_class)} - listed
    assert not unlisted


def test_env_example_copied_to_dotenv_gives_the_defaults(tmp_path, clean_environment):
    shutil.copyfile(REPO / ".env.example", tmp_path / ".env")
    clean_environment.chdir(REPO)  # the relative paths of .env.example (RASA_MODEL=models/...) mean the repository
    for settings_class in (
        DemoShopSettings,
        ActionServerSettings,
        BackendSettings,
        CustomerTokenSettings,
        WebChatSettings,
        StackSettings,
        StoreSettings,
    ):
        from_file = settings_class.from_env(env_file=tmp_path / ".env")
        defaults = settings_class.from_env({})
        for name in settings_class.__fields__:
            got, default = getattr(from_file, name), getattr(defaults, name)
            if isinstance(default, Path):
                got = Path(got).resolve()
            assert got == default, f"{settings_class.variable(name)}: .env.example says {got!r}, the code {default!r}"


@pytest.mark.parametrize(
    "command,variable,value",
    [
        (["-m", "webchat"], "WEBCHAT_PORT", "eighty"),
        (["-m", "demoshop"], "DEMOSHOP_THREADS", "many"),
        (["-m", "actions"], "BACKEND_READ_TIMEOUT", "soon"),  # a backend setting stops the action server at start
        (["-m", "actions"], "ACTION_SERVER_TOKEN", "short"),  # so does a token too short to be a secret
    ],
)
def test_a_process_with_a_bad_value_stops_at_start_naming_it(command, variable, value):
    done = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env={**os.environ, "ACTION_SERVER_TOKEN": "a-token-long-enough-for-the-check", variable: value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    refusal = [r for r in records if r["message"] == "invalid configuration"]
    named = (f"{variable}={value!r}", f"{variable} (value not shown)")  # a secret's value is never logged
    assert refusal and any(form in refusal[0]["error"] for form in named)


def test_the_launcher_refuses_a_bad_port_by_name(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "launcher",
            "run",
            "--state-file",
            str(tmp_path / "stack.json"),
            "--log-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        env={**os.environ, "RASA_PORT": "70000"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "RASA_PORT='70000'" in done.stderr


# --- logging ----------------------------------------------------------------------------------------------------

LOGGING_CHILD = """
import logging, warnings
from foundation.logging import configure_json_logging
configure_json_logging("INFO", quiet=("chatty",))
logging.getLogger("shop").info("order shipped", extra={"order_id": "10001"})
logging.getLogger("shop").debug("not shown at INFO")
logging.getLogger("chatty").info("not shown: quietened")
logging.getLogger("chatty").warning("shown: a warning")
warnings.warn("a Python warning")
print('{"already": "json"}')
"""


def test_the_logging_set_up_writes_one_json_object_per_line():
    done = subprocess.run([sys.executable, "-c", LOGGING_CHILD], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(isinstance(record, dict) for record in records)
    assert len(records) == 4  # the debug line and the quietened info line are not there
    for record in records[:3]:
        assert {"asctime", "level", "name", "message"} <= set(record)
    assert (records[0]["level"], records[0]["name"], records[0]["message"], records[0]["order_id"]) == (
        "INFO",
        "shop",
        "order shipped",
        "10001",
    )
    assert (records[1]["level"], records[1]["name"], records[1]["message"]) == ("WARNING", "chatty", "shown: a warning")
    assert records[2]["name"] == "py.warnings" and "a Python warning" in records[2]["message"]


# --- processes --------------------------------------------------------------------------------------------------


def http_server(directory: Path, port: int) -> list:
    return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(directory)]


def test_a_child_is_started_waited_for_and_stopped_by_pid(tmp_path):
    port = free_port()
    (tmp_path / "health").write_text("ok")
    child = ChildProcess("file server", http_server(tmp_path, port), log_path=tmp_path / "server.log")
    try:
        seconds = child.wait_http(f"http://127.0.0.1:{port}/health", timeout=30)
        assert 0 <= seconds < 30
        assert pid_alive(child.pid) and port_in_use("127.0.0.1", port)
        assert stop_pid(child.pid, timeout=5)  # as `make stop` does, knowing only the PID
        assert not pid_alive(child.pid) and not port_in_use("127.0.0.1", port)
        assert stop_pid(child.pid) is False  # nothing left to stop
    finally:
        child.stop()
    assert child.exited() is not None


def test_a_probe_that_connects_to_itself_does_not_count_as_a_listener(monkeypatch):
    # What made the test above flaky: the kernel picked the free port itself as the probe's source port.
    port = free_port()
    plain_socket = socket.socket

    def bound_to_the_port(*args, **kwargs):
        probe = plain_socket(*args, **kwargs)
        probe.bind(("127.0.0.1", port))
        return probe

    monkeypatch.setattr(socket, "socket", bound_to_the_port)
    assert not port_in_use("127.0.0.1", port)


def test_a_child_that_dies_at_start_is_reported_with_its_last_words(tmp_path):
    code = "import sys; print('cannot start: no such database', flush=True); sys.exit(3)"
    child = ChildProcess("broken server", [sys.executable, "-c", code], log_path=tmp_path / "broken.log")
    with pytest.raises(StartupError) as failed:
        child.wait_http(f"http://127.0.0.1:{free_port()}/health", timeout=30)
    assert "the broken server exited with code 3 while starting" in str(failed.value)
    assert "cannot start: no such database" in str(failed.value)


def test_a_child_that_is_not_ready_in_time_is_stopped(tmp_path):
    child = ChildProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(StartupError, match=r"the sleeper was not answering .* within 1 s"):
        child.wait_http(f"http://127.0.0.1:{free_port()}/health", timeout=1)
    assert not child.running()


def test_readiness_can_require_a_json_value(tmp_path):
    port = free_port()
    status = tmp_path / "status"
    status.write_text('{"model_file": null}')
    child = ChildProcess("status server", http_server(tmp_path, port))
    try:
        child.wait_http(f"http://127.0.0.1:{port}/status", timeout=30)  # answers 200 ...
        assert not http_ready(f"http://127.0.0.1:{port}/status", json_key="model_file")  # ... but has no model yet
        status.write_text('{"model_file": "larkspur.tar.gz"}')
        assert http_ready(f"http://127.0.0.1:{port}/status", json_key="model_file")
    finally:
        child.stop()


def test_a_json_log_wraps_what_is_not_json(tmp_path):
    code = 'print(\'native chatter\', flush=True); print(\'{"level": "INFO", "message": "ready"}\', flush=True)'
    child = ChildProcess(
        "talker", [sys.executable, "-c", code], log_path=tmp_path / "talker.log", json_source="talker.console"
    )
    child.proc.wait(30)
    child.stop()
    records = [json.loads(line) for line in (tmp_path / "talker.log").read_text().splitlines()]
    assert records[0]["name"] == "talker.console" and records[0]["message"] == "native chatter"
    assert records[1] == {"level": "INFO", "message": "ready"}


# --- one record per exception, secrets masked, keyed conversation references -------------------------------------

MASKING_CHILD = """
import logging, sys, threading
import sanic.log
from foundation.logging import configure_json_logging
configure_json_logging("INFO")
from sanic import Sanic
Sanic("default_logging")  # configures Sanic's logging as Rasa's server does
log = logging.getLogger("shop")
log.info("Received user message '123456' from whatsapp:+31612345678", extra={"card": "4242 4242 4242 4242"})
log.info("order %s refunded: %s", "10234", "EUR 120.50")
try:
    raise ValueError("code 654321 was wrong")
except ValueError:
    log.exception("checking failed")
logging.getLogger("sanic.error").error("Exception occurred", exc_info=(ValueError, ValueError("in a handler"), None))
thread = threading.Thread(target=lambda: 1 / 0, name="worker")
thread.start(); thread.join()
raise SystemError("the end")
"""


def test_every_exception_is_one_record_and_codes_cards_and_sender_ids_are_masked(tmp_path):
    env = {**os.environ, "CONVERSATION_REF_SECRET": "test-ref-secret"}
    done = subprocess.run(
        [sys.executable, "-c", MASKING_CHILD], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and done.stderr == ""  # nothing printed beside the JSON lines
    records = [json.loads(line) for line in done.stdout.splitlines()]
    ref = conversation_ref("whatsapp:+31612345678", "test-ref-secret")
    assert [record["message"] for record in records] == [
        f"Received user message '[code]' from conversation:{ref}",
        "order 10234 refunded: EUR 120.50",
        "checking failed",
        "Exception occurred",
        "uncaught exception in thread worker: division by zero",
        "uncaught exception: the end",
    ]
    assert records[0]["card"] == "[card ending 4242]"
    assert records[2]["exc_info"].startswith("Traceback (most recent call last):")
    assert "code [code] was wrong" in records[2]["exc_info"] and "654321" not in done.stdout
    assert "ZeroDivisionError" in records[4]["exc_info"] and "SystemError: the end" in records[5]["exc_info"]
    assert (records[5]["level"], records[5]["name"]) == ("CRITICAL", "uncaught")


def test_a_traceback_a_child_prints_is_one_record():
    output = ChildOutput("rasa.console")
    printed = [
        "native chatter",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "    boom()",
        "KeyError: 'a'",
        "During handling of the above exception, another exception occurred:",
        "Traceback (most recent call last):",
        '  File "x.py", line 3, in <module>',
        "RuntimeError: code 123456 refused",
        '{"level": "INFO", "message": "still JSON"}',
        "Traceback (most recent call last):",
        '  File "y.py", line 9, in <module>',
    ]
    lines = [line for text in printed for line in output.feed(text.encode() + b"\n")] + output.close()
    records = [json.loads(line) for line in lines]
    assert [(r["level"], r["message"]) for r in records] == [
        ("INFO", "native chatter"),
        ("ERROR", "KeyError: 'a'"),
        ("ERROR", "RuntimeError: code [code] refused"),
        ("INFO", "still JSON"),
        ("ERROR", 'File "y.py", line 9, in <module>'),  # cut off by the end of the output
    ]
    assert records[1]["exc_info"] == "\n".join(printed[1:5])
    assert records[2]["exc_info"].startswith(printed[5]) and records[2]["exc_info"].count("\n") == 3


def test_a_child_process_crash_is_one_record_in_its_json_log(tmp_path):
    code = "def fail():\n    raise RuntimeError('cannot start')\nprint('starting', flush=True)\nfail()"
    child = ChildProcess("crasher", [sys.executable, "-c", code], log_path=tmp_path / "c.log", json_source="crasher")
    child.proc.wait(30)
    child.stop()
    records = [json.loads(line) for line in (tmp_path / "c.log").read_text().splitlines()]
    assert [r["message"] for r in records] == ["starting", "RuntimeError: cannot start"]
    assert "in fail" in records[1]["exc_info"]


def test_conversation_refs_are_keyed_hashes():
    phone = "whatsapp:+31612345678"
    import hashlib

    assert conversation_ref(phone, "a") == conversation_ref(phone, "a") != conversation_ref(phone, "b")
    assert conversation_ref(phone, "a") != hashlib.sha256(phone.encode()).hexdigest()[:16]
    assert len(conversation_ref(phone, "a")) == 16


def test_without_a_secret_set_a_private_per_install_key_is_made_once(tmp_path, monkeypatch):
    path = tmp_path / "var" / "conversation-ref.secret"
    key = per_install_secret(path)
    assert len(key) == 64 and path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    per_install_secret.cache_clear()
    assert per_install_secret(path) == key  # read back, not made again
    assert list(path.parent.iterdir()) == [path]  # no draft left behind
    monkeypatch.setenv("CONVERSATION_REF_SECRET", "from-the-environment")
    assert ConversationRefSettings.current().secret == "from-the-environment"
