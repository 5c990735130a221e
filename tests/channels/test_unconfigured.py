"""With no channel secret set, the project's credentials.yml still loads: each platform webhook answers 503
`channel_not_configured`, one warning per channel is logged at start-up, and nothing reaches the assistant."""

from __future__ import annotations

import sys

import pytest
import requests

from tests.support.processes import REPO, Service, free_port

UNSET = {
    name: ""
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "TEAMS_APP_ID",
        "TEAMS_APP_PASSWORD",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
    )
}


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    port, log = free_port(), tmp_path_factory.mktemp("unconfigured") / "channels.log"
    service = Service(
        "channels-only",
        [sys.executable, "-m", "tests.channels.channels_only", str(REPO / "credentials.yml"), str(port)],
        {"RASA_TELEMETRY_ENABLED": "false", **UNSET},
        log,
    )
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=120)
    yield base, log
    service.stop()


@pytest.mark.parametrize(
    "name,unset", [("slack", "SLACK_BOT_TOKEN"), ("teams", "TEAMS_APP_ID"), ("whatsapp", "TWILIO_AUTH_TOKEN")]
)
def test_an_unconfigured_channel_answers_503(bare, name, unset):
    base, _ = bare
    answer = requests.post(
        f"{base}/webhooks/{name}/webhook", data=b"{}", timeout=10, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "channel_not_configured" and unset in error["message"]
    assert requests.get(f"{base}/health", timeout=10).json()["handled"] == []


def test_one_warning_per_channel_at_start_up(bare):
    _, log = bare
    text = log.read_text()
    for channel in ("Slack", "Teams", "WhatsApp"):
        assert text.count(f"The {channel} channel is not configured") == 1
