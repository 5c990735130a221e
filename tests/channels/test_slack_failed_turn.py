"""A Slack event whose first processing failed (the turn raised) is processed when Slack retries it, and answered
exactly once; later retries are acknowledged without processing. On a channels-only server (no model) whose agent
fails a turn once, with replies caught by the Slack Web API stand-in."""

from __future__ import annotations

import sys
import time

import pytest
import requests

from tests.channels import standins
from tests.channels.conftest import SLACK_SECRET, SLACK_TOKEN
from tests.channels.test_slack import message_event, new_channel, post
from tests.support.processes import REPO, Service, free_port


@pytest.fixture(scope="module")
def failing_once(tmp_path_factory):
    slack = standins.slack_api()
    port, log = free_port(), tmp_path_factory.mktemp("failing-once") / "channels.log"
    service = Service(
        "channels-only",
        [sys.executable, "-m", "tests.channels.channels_only", str(REPO / "credentials.yml"), str(port)],
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_API_URL": f"{slack.url}/api/",
        },
        log,
    )
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=120)
    yield base, slack
    service.stop()
    slack.stop()


def test_a_retry_after_a_failed_first_processing_is_answered_exactly_once(failing_once):
    base, slack = failing_once
    channel = new_channel()
    event = message_event("fail once, then answer", channel=channel)

    def replies():
        return slack.received(lambda r: r.path == "/api/chat.postMessage" and r.json().get("channel") == channel)

    assert post(None, event, server=base).status_code == 200  # acknowledged; the turn runs after, and raises
    deadline = time.monotonic() + 10
    while requests.get(f"{base}/health", timeout=10).json()["failed"] != ["fail once, then answer"]:
        assert time.monotonic() < deadline, "the first processing did not fail"
        time.sleep(0.1)

    retry = post(None, event, server=base, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert retry.status_code == 200 and "X-Slack-No-Retry" not in retry.headers
    [reply] = slack.wait_for(lambda r: r.path == "/api/chat.postMessage" and r.json().get("channel") == channel)
    assert reply.json()["text"] == "echo: fail once, then answer"

    later = post(None, event, server=base, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert later.status_code == 200 and later.headers.get("X-Slack-No-Retry") == "1"
    time.sleep(1)
    assert len(replies()) == 1
    assert requests.get(f"{base}/health", timeout=10).json()["handled"] == ["fail once, then answer"]
