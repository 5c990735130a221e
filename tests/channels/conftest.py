"""One real stack (demo shop, action server, Rasa with the project's credentials.yml) for every channel test,
with the platforms' APIs replaced by local recording stand-ins."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from foundation.conversation_ref import conversation_ref
from tests.channels import standins
from tests.support.stack import Stack, start_stack

SLACK_TOKEN = "xoxb-0000000000-test-bot-token"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_BOT_USER = "U0LARKBOT"
TEAMS_APP_ID = "4f1c9e2a-5d3b-4c6e-9a7f-0b1d2e3f4a5b"
TEAMS_APP_PASSWORD = "teams-test-client-secret"
TEAMS_KID = "larkspur-test-key"
TEAMS_WEBCHAT_ONLY_KID = "larkspur-webchat-only-key"  # published, but endorsed for the web chat channel only
TEAMS_KEYS_MIN_REFRESH_SECONDS = 2.0  # the server's cooldown between key refetches, short so tests can wait it out
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-test-auth-token-000000000"
TWILIO_NUMBER = "whatsapp:+14155238886"
TWILIO_PUBLIC_URL = "https://support.larkspur.example/webhooks/whatsapp/webhook"
CUSTOMER_TOKEN_SECRET = "channels-customer-token-secret-0123456789"
# Short backoff so retried replies arrive within a test; longer than BACKOFF_MAX is the Retry-After tests use.
DELIVERY_ENV = {
    "CHANNEL_SEND_MAX_ATTEMPTS": "6",
    "CHANNEL_SEND_BACKOFF_INITIAL": "0.2",
    "CHANNEL_SEND_BACKOFF_MAX": "1",
    "CHANNEL_SEND_RETRY_AFTER_MAX": "10",
}


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_jwk(
    key: rsa.RSAPrivateKey, kid: str, endorsements: Sequence[str] = ("msteams", "webchat")
) -> dict[str, Any]:
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256", "endorsements": list(endorsements)}


@dataclass
class Channels:
    stack: Stack
    slack: standins.StandIn
    microsoft: standins.StandIn
    twilio: standins.StandIn
    teams_key: rsa.RSAPrivateKey
    teams_webchat_only_key: rsa.RSAPrivateKey
    teams_jwks: dict[str, list[dict[str, Any]]]  # what the Microsoft stand-in serves at /keys, live

    def publish_teams_key(self, key: rsa.RSAPrivateKey, kid: str) -> None:
        """Microsoft rotating a new signing key in: the stand-in's JWKS lists it from now on."""
        self.teams_jwks["keys"].append(public_jwk(key, kid))

    def teams_key_fetches(self) -> int:
        return len(self.microsoft.received(lambda r: r.path == "/keys"))

    def log_lines(self, message: str, conversation: str) -> list[dict[str, Any]]:
        """The Rasa server's JSON log records with this message about this conversation (by its ref)."""
        ref = conversation_ref(conversation)
        records = [
            json.loads(line) for line in self.stack.rasa.log_path.read_text().splitlines() if line.startswith("{")
        ]
        return [r for r in records if r.get("message") == message and r.get("conversation") == ref]

    def wait_log(self, message: str, conversation: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.log_lines(message, conversation)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{count} log line(s) {message!r} for this conversation not logged within {timeout}s")

    @property
    def service_url(self) -> str:
        return f"{self.microsoft.url}/teams/"

    def teams_token(
        self,
        *,
        key: Any = None,
        kid: str = TEAMS_KID,
        audience: str = TEAMS_APP_ID,
        issuer: str = "https://api.botframework.com",
        expires_in: int = 3600,
        service_url: Any = None,
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + expires_in,
            "serviceurl": service_url or self.service_url,
        }
        return jwt.encode(claims, pem(key or self.teams_key), algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="session")
def channels(tmp_path_factory) -> Channels:
    teams_key, webchat_only_key = private_key(), private_key()
    slack, twilio = standins.slack_api(), standins.twilio_api()
    jwks = {
        "keys": [
            public_jwk(teams_key, TEAMS_KID),
            public_jwk(webchat_only_key, TEAMS_WEBCHAT_ONLY_KID, endorsements=["webchat"]),
        ]
    }
    microsoft = standins.microsoft(jwks)
    rasa_env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_API_URL": f"{slack.url}/api/",
        "TEAMS_APP_ID": TEAMS_APP_ID,
        "TEAMS_APP_PASSWORD": TEAMS_APP_PASSWORD,
        "TEAMS_OPENID_METADATA_URL": f"{microsoft.url}/openidconfiguration",
        "TEAMS_TOKEN_URL": f"{microsoft.url}/token",
        "TEAMS_KEYS_MIN_REFRESH_SECONDS": str(TEAMS_KEYS_MIN_REFRESH_SECONDS),
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": TWILIO_NUMBER,
        "TWILIO_WEBHOOK_URL": TWILIO_PUBLIC_URL,
        "TWILIO_API_URL": twilio.url,
        **DELIVERY_ENV,
    }
    stack = start_stack(
        tmp_path_factory.mktemp("channels"), env={"CUSTOMER_TOKEN_SECRET": CUSTOMER_TOKEN_SECRET}, rasa_env=rasa_env
    )  # the project's own credentials.yml
    yield Channels(stack, slack, microsoft, twilio, teams_key, webchat_only_key, jwks)
    stack.stop()
    for stand_in in (slack, microsoft, twilio):
        stand_in.stop()


GREETINGS = ("Hi! I'm the Larkspur Home assistant", "Hello! Larkspur Home support here")


def is_greeting(text: str) -> bool:
    return any(text.startswith(greeting) for greeting in GREETINGS)
