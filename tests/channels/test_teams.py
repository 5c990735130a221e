"""Microsoft Teams (Bot Framework) through the real Rasa server: JWT-authenticated activities, key discovery and
the reply path (token endpoint, then the activity's serviceUrl) served by the Microsoft stand-in."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.channels.conftest import (
    TEAMS_APP_ID,
    TEAMS_APP_PASSWORD,
    TEAMS_KEYS_MIN_REFRESH_SECONDS,
    TEAMS_KID,
    TEAMS_WEBCHAT_ONLY_KID,
    Channels,
    is_greeting,
    private_key,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def activity(channels: Channels, text: str, conversation: str, **fields: Any) -> dict[str, Any]:
    """A personal-chat message activity as the Bot Connector delivers it from Teams."""
    return {
        "text": text,
        "textFormat": "plain",
        "type": "message",
        "timestamp": "2024-06-11T10:15:42.1234567Z",
        "localTimestamp": "2024-06-11T12:15:42.1234567+02:00",
        "id": f"1718100942{uuid.uuid4().int % 10**6}",
        "channelId": "msteams",
        "serviceUrl": channels.service_url,
        "from": {"id": "29:1ShopperAADxyz", "name": "Anna Bakker", "aadObjectId": str(uuid.uuid4())},
        "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": conversation},
        "recipient": {"id": f"28:{TEAMS_APP_ID}", "name": "Larkspur support"},
        "entities": [
            {
                "locale": "en-US",
                "country": "NL",
                "platform": "Web",
                "timezone": "Europe/Amsterdam",
                "type": "clientInfo",
            }
        ],
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-US",
        "localTimezone": "Europe/Amsterdam",
        **fields,
    }


def post(channels: Channels, body: dict[str, Any], token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{channels.stack.rasa_url}/webhooks/teams/webhook", json=body, headers=headers, timeout=60)


def sent_to(channels: Channels, conversation: str):
    path = f"/teams/v3/conversations/{conversation}/activities"
    return channels.microsoft.received(lambda r: r.method == "POST" and r.path == path)


def new_conversation() -> str:
    return f"a:1{uuid.uuid4().hex}"


def test_hi_is_answered_in_the_conversation_with_a_connector_token(channels):
    conversation = new_conversation()
    answer = post(channels, activity(channels, "hi", conversation), channels.teams_token())
    assert answer.status_code == 200
    path = f"/teams/v3/conversations/{conversation}/activities"
    reply = channels.microsoft.wait_for(lambda r: r.path == path)[0]
    assert reply.headers["authorization"] == "Bearer standin-connector-access-token"
    body = reply.json()
    assert body["type"] == "message" and is_greeting(body["text"])
    assert body["recipient"]["id"] == "29:1ShopperAADxyz" and body["from"]["id"] == f"28:{TEAMS_APP_ID}"
    token_request = channels.microsoft.received(lambda r: r.path == "/token")[0].form()
    assert token_request["client_id"] == TEAMS_APP_ID and token_request["client_secret"] == TEAMS_APP_PASSWORD
    assert token_request["grant_type"] == "client_credentials"
    assert token_request["scope"] == "https://api.botframework.com/.default"
    assert channels.microsoft.received(lambda r: r.path == "/keys")  # keys discovered from the metadata


def test_a_mention_is_stripped_from_the_text(channels):
    conversation = new_conversation()
    body = activity(channels, "<at>Larkspur support</at> hi", conversation)
    assert post(channels, body, channels.teams_token()).status_code == 200
    reply = channels.microsoft.wait_for(lambda r: r.path == f"/teams/v3/conversations/{conversation}/activities")[0]
    assert is_greeting(reply.json()["text"])


REFUSED = {
    "no token": lambda c: None,
    "not a jwt": lambda c: "not-a-jwt",
    "unknown key": lambda c: c.teams_token(key=private_key(), kid="rogue-key"),
    "known kid, wrong key": lambda c: c.teams_token(key=private_key(), kid=TEAMS_KID),
    "key not endorsed for msteams": lambda c: c.teams_token(key=c.teams_webchat_only_key, kid=TEAMS_WEBCHAT_ONLY_KID),
    "wrong audience": lambda c: c.teams_token(audience="00000000-0000-0000-0000-000000000000"),
    "wrong issuer": lambda c: c.teams_token(issuer="https://sts.windows.net/evil/"),
    "expired": lambda c: c.teams_token(expires_in=-600),
    "other serviceUrl": lambda c: c.teams_token(service_url="https://smba.trafficmanager.net/emea/"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_request_without_a_valid_token_is_refused_and_nothing_is_sent(channels, case):
    conversation = new_conversation()
    answer = post(channels, activity(channels, "hi", conversation), REFUSED[case](channels))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    time.sleep(0.5)
    assert sent_to(channels, conversation) == []


def test_a_valid_token_cannot_redirect_replies_to_another_service_url(channels):
    conversation = new_conversation()
    body = activity(channels, "hi", conversation, serviceUrl="http://127.0.0.1:9/elsewhere/")
    answer = post(channels, body, channels.teams_token())  # the token names the real serviceUrl
    assert answer.status_code == 401


def wait_out_the_key_refresh_cooldown() -> None:
    time.sleep(TEAMS_KEYS_MIN_REFRESH_SECONDS + 0.5)


def test_a_rotated_in_key_is_fetched_and_accepted_and_an_unknown_key_is_refused(channels):
    assert post(channels, activity(channels, "hi", new_conversation()), channels.teams_token()).status_code == 200
    new_key, new_kid = private_key(), f"larkspur-rotated-{uuid.uuid4().hex[:8]}"
    channels.publish_teams_key(new_key, new_kid)  # Microsoft rotates a key in; the server's cached set lacks it
    wait_out_the_key_refresh_cooldown()
    fetches = channels.teams_key_fetches()

    conversation = new_conversation()
    answer = post(channels, activity(channels, "hi", conversation), channels.teams_token(key=new_key, kid=new_kid))
    assert answer.status_code == 200
    reply = channels.microsoft.wait_for(lambda r: r.path == f"/teams/v3/conversations/{conversation}/activities")[0]
    assert is_greeting(reply.json()["text"])
    assert channels.teams_key_fetches() == fetches + 1  # the set was refetched once, for the unseen kid
    # the old key still works, from the cache
    assert post(channels, activity(channels, "hi", new_conversation()), channels.teams_token()).status_code == 200
    assert channels.teams_key_fetches() == fetches + 1

    wait_out_the_key_refresh_cooldown()
    conversation = new_conversation()
    unknown = channels.teams_token(key=private_key(), kid="never-published")
    answer = post(channels, activity(channels, "hi", conversation), unknown)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert channels.teams_key_fetches() == fetches + 2  # looked once more, still not published
    # within the cooldown another unknown kid is refused without fetching the keys again
    other = channels.teams_token(key=private_key(), kid="never-published-either")
    assert post(channels, activity(channels, "hi", conversation), other).status_code == 401
    assert channels.teams_key_fetches() == fetches + 2
    time.sleep(0.5)
    assert sent_to(channels, conversation) == []
