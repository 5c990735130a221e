"""The real servers the fuzz tests hit, each on 127.0.0.1 and a free port, and the table printed at the end.

Started once per session: the demo shop, the action server (with its bearer token), the web chat server, and a
Rasa server with the project's credentials.yml whose Slack, Teams and WhatsApp secrets are set, so that signed
requests reach the channels' parsers; the platforms' APIs are the local stand-ins of tests/channels.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from foundation import REPO
from foundation.processes import ChildProcess, free_port
from tests.channels import standins
from tests.channels.conftest import (
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAMS_APP_ID,
    TEAMS_APP_PASSWORD,
    TEAMS_KID,
    TWILIO_NUMBER,
    TWILIO_PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    pem,
    private_key,
    public_jwk,
)
from tests.fuzz.budget import FuzzBudget
from tests.fuzz.tally import Tally, table
from tests.support.processes import start_demoshop
from tests.support.stack import Stack, start_stack

SHOP_KEY = "test-key"
ACTIONS_TOKEN = "fuzz-action-server-token-0123456789abcdef"
# Rate limits far above what one fuzz run sends: a 429 would be a refusal, but it would hide the parsers.
RATE_LIMITS = {
    "RATE_LIMIT_PER_SENDER": "1000000/minute",
    "RATE_LIMIT_PER_ADDRESS": "1000000/minute",
    "RATE_LIMIT_CODES_PER_ADDRESS": "1000000/minute",
    "RATE_LIMIT_CODES_PER_CUSTOMER": "1000000/minute",
}
RESULTS = REPO / "results" / "fuzz.json"
RECORDED: list[Tally] = []


@pytest.fixture(scope="session")
def budget() -> FuzzBudget:
    return FuzzBudget.from_env()


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    """The record of the endpoint a test fuzzes, named by the test's id, kept for the closing table."""
    name = request.node.name.removeprefix("test_")
    recorded = Tally(name)
    RECORDED.append(recorded)
    return recorded


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def fuzz_shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo shop on SQLite, then on a real PostgreSQL (which refuses what SQLite stores: NUL characters)."""
    url = request.getfixturevalue("postgres").url if request.param == "postgresql" else None
    service, base = start_demoshop(tmp_path_factory.mktemp(f"fuzz-shop-{request.param}"), database_url=url)
    yield base
    service.stop()


@pytest.fixture(scope="session")
def fuzz_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("fuzz-actions")
    shop, shop_url = start_demoshop(tmp, env=RATE_LIMITS)
    port = free_port()
    env = {
        **RATE_LIMITS,
        "DEMOSHOP_URL": shop_url,
        "DEMOSHOP_API_KEY": SHOP_KEY,
        "ACTIONS_PORT": str(port),
        "ACTIONS_METRICS_PORT": "0",
        "ACTION_SERVER_TOKEN": ACTIONS_TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    service = ChildProcess("actions", [sys.executable, "-m", "actions"], env, tmp / "actions.log")
    base = f"http://127.0.0.1:{port}"
    service.wait_http(f"{base}/health", timeout=90)
    yield base
    service.stop()
    shop.stop()


@pytest.fixture(scope="session")
def fuzz_webchat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    service = ChildProcess(
        "webchat",
        [sys.executable, "-m", "webchat"],
        {"WEBCHAT_PORT": str(port), "LOG_LEVEL": "WARNING"},
        tmp_path_factory.mktemp("fuzz-webchat") / "webchat.log",
    )
    service.wait_http(f"http://127.0.0.1:{port}/health", timeout=30)
    yield "127.0.0.1", port
    service.stop()


@dataclass
class FuzzChannels:
    """The Rasa stack with every channel configured, and what a test needs to sign for each platform."""

    stack: Stack
    microsoft: standins.StandIn
    teams_key: rsa.RSAPrivateKey
    foreign_key: rsa.RSAPrivateKey

    @property
    def teams_service_url(self) -> str:
        return f"{self.microsoft.url}/teams/"

    def teams_token(self, how: str) -> str:
        """A Bot Connector token for our app: `valid`, `expired`, `audience` (another app), `foreign` (a key the
        connector does not publish), `service` (for another service URL)."""
        now = int(time.time())
        claims = {
            "iss": "https://api.botframework.com",
            "aud": TEAMS_APP_ID if how != "audience" else "another-app",
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + (3600 if how != "expired" else -3600),
            "serviceurl": self.teams_service_url if how != "service" else "https://elsewhere.example/",
        }
        key = self.teams_key if how != "foreign" else self.foreign_key
        return jwt.encode(claims, pem(key), algorithm="RS256", headers={"kid": TEAMS_KID})


@pytest.fixture(scope="session")
def fuzz_channels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzChannels]:
    teams_key = private_key()
    slack, twilio = standins.slack_api(), standins.twilio_api()
    microsoft = standins.microsoft({"keys": [public_jwk(teams_key, TEAMS_KID)]})
    rasa_env = {
        **RATE_LIMITS,
        "LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": f"{slack.url}/api/",
        "TEAMS_APP_ID": TEAMS_APP_ID,
        "TEAMS_APP_PASSWORD": TEAMS_APP_PASSWORD,
        "TEAMS_OPENID_METADATA_URL": f"{microsoft.url}/openidconfiguration",
        "TEAMS_TOKEN_URL": f"{microsoft.url}/token",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": TWILIO_NUMBER,
        "TWILIO_WEBHOOK_URL": TWILIO_PUBLIC_URL,
        "TWILIO_API_URL": twilio.url,
    }
    stack = start_stack(
        tmp_path_factory.mktemp("fuzz-rasa"), env={**RATE_LIMITS, "LOG_LEVEL": "WARNING"}, rasa_env=rasa_env
    )
    yield FuzzChannels(stack, microsoft, teams_key, private_key())
    stack.stop()
    for stand_in in (slack, microsoft, twilio):
        stand_in.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The table of every fuzzed endpoint, and the same figures as JSON in results/fuzz.json."""
    if not RECORDED:
        return
    terminalreporter.section("fuzzing: requests per endpoint")
    terminalreporter.write_line(table(RECORDED))
    Path(RESULTS).parent.mkdir(parents=True, exist_ok=True)
    Path(RESULTS).write_text(json.dumps([t.as_dict() for t in RECORDED], indent=2) + "\n")
    terminalreporter.write_line(f"details and reproducers: {RESULTS.relative_to(REPO)}")
