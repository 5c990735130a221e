"""Pure helpers of the messaging channels: Slack and Twilio request signatures, Twilio field checks, Bot Framework
token validation (keys made on the fly with `cryptography`, tokens signed with PyJWT)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from channels.slack import slack_signature_valid
from channels.teams import TokenError, UnknownKey, validate_token
from channels.whatsapp_twilio import InvalidMessage, chunks, parse_form, parse_inbound, twilio_signature_valid

# --- Slack ---------------------------------------------------------------------------------------------------------

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b'{"type":"event_callback","event":{"type":"message","text":"hi"}}'
NOW = 1_718_100_000


def slack_sign(body: bytes = BODY, ts: int = NOW, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()


def test_slack_accepts_a_fresh_correct_signature():
    assert slack_signature_valid(SECRET, str(NOW), BODY, slack_sign(), now=NOW + 10)


@pytest.mark.parametrize(
    "timestamp,body,signature,now",
    [
        (str(NOW), BODY, slack_sign(secret="other"), NOW),  # wrong secret
        (str(NOW), BODY + b" ", slack_sign(), NOW),  # body changed
        (str(NOW), BODY, slack_sign(), NOW + 301),  # older than 5 minutes
        (str(NOW), BODY, slack_sign(), NOW - 301),  # from the future
        ("17181e9", BODY, slack_sign(), NOW),  # not an integer
        (None, BODY, slack_sign(), NOW),
        (str(NOW), BODY, None, NOW),
        (str(NOW), BODY, slack_sign().replace("v0=", "v1="), NOW),
    ],
)
def test_slack_refuses_bad_or_stale_signatures(timestamp, body, signature, now):
    assert not slack_signature_valid(SECRET, timestamp, body, signature, now=now)


def test_slack_refuses_everything_without_a_secret():
    assert not slack_signature_valid("", str(NOW), BODY, slack_sign(secret=""), now=NOW)


# --- Twilio --------------------------------------------------------------------------------------------------------

TOKEN = "12345"
URL = "https://support.larkspur.example/webhooks/whatsapp/webhook"


def twilio_sign(url: str, params: dict, token: str = TOKEN) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilio_signature_matches_twilios_documented_example():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    form = {k: [v] for k, v in params.items()}
    assert twilio_signature_valid(
        "12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )


def test_twilio_signature_covers_url_and_every_parameter_blank_ones_included():
    body = b"Body=&From=whatsapp%3A%2B31612345678&NumMedia=1&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm"
    params = parse_form(body)
    assert params["Body"] == [""]
    signature = twilio_sign(URL, {k: v[0] for k, v in params.items()})
    assert twilio_signature_valid(TOKEN, URL, params, signature)
    assert not twilio_signature_valid(TOKEN, URL.replace("https", "http"), params, signature)
    assert not twilio_signature_valid(TOKEN, URL, {**params, "Body": ["hi"]}, signature)
    assert not twilio_signature_valid("other", URL, params, signature)
    assert not twilio_signature_valid(TOKEN, URL, params, None)
    assert not twilio_signature_valid("", URL, params, signature)


ACCOUNT = "AC" + "0" * 32
SID = "SM" + "a" * 32


def form(**overrides):
    fields = {
        "From": "whatsapp:+31612345678",
        "To": "whatsapp:+14155238886",
        "Body": "hi",
        "MessageSid": SID,
        "AccountSid": ACCOUNT,
        **overrides,
    }
    return {k: [v] for k, v in fields.items() if v is not None}


def test_a_well_formed_message_is_parsed():
    message = parse_inbound(form(), ACCOUNT)
    assert (message.sender, message.to, message.body, message.message_sid) == (
        "whatsapp:+31612345678",
        "whatsapp:+14155238886",
        "hi",
        SID,
    )
    assert parse_inbound(form(Body=""), ACCOUNT).body == ""  # media only: present but empty


@pytest.mark.parametrize(
    "overrides",
    [
        {"Body": None},
        {"From": None},
        {"To": None},
        {"MessageSid": None},
        {"AccountSid": None},
        {"From": "+31612345678"},
        {"From": "whatsapp:31612345678"},
        {"From": "whatsapp:+0612345678"},
        {"From": "whatsapp:+31 6 12345678"},
        {"From": "whatsapp:+316123456789012345"},
        {"From": "sms:+31612345678"},
        {"MessageSid": "SM123"},
        {"MessageSid": "XX" + "a" * 32},
        {"MessageSid": "SM" + "A" * 32},
        {"AccountSid": "AC" + "1" * 32},
        {"Body": "x" * 4097},
    ],
)
def test_missing_or_malformed_fields_are_refused(overrides):
    with pytest.raises(InvalidMessage):
        parse_inbound(form(**overrides), ACCOUNT)


def test_a_repeated_field_is_refused():
    with pytest.raises(InvalidMessage):
        parse_inbound({**form(), "From": ["whatsapp:+31612345678", "whatsapp:+31687654321"]}, ACCOUNT)


def test_long_replies_are_split_at_paragraphs():
    text = "a" * 1000 + "\n\n" + "b" * 1000 + "\n\n" + "c" * 10
    assert [len(part) for part in chunks(text)] == [1000, 1012]
    assert chunks("x" * 3300) == ["x" * 1600, "x" * 1600, "x" * 100]
    assert chunks("short") == ["short"]


# --- Bot Framework -------------------------------------------------------------------------------------------------

APP_ID = "4f1c9e2a-5d3b-4c6e-9a7f-0b1d2e3f4a5b"
ISSUER = "https://api.botframework.com"
SERVICE_URL = "https://smba.trafficmanager.net/emea/"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {"k1": {**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1", "endorsements": ["msteams"]}}


def token(key=KEY, kid="k1", algorithm="RS256", **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": APP_ID, "exp": now + 3600, "nbf": now - 10, "serviceurl": SERVICE_URL, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


def check(raw: str, service_url: str = SERVICE_URL, channel_id: str = "msteams"):
    return validate_token(raw, keys=KEYS, issuer=ISSUER, app_id=APP_ID, service_url=service_url, channel_id=channel_id)


def test_a_connector_token_for_this_bot_and_activity_is_accepted():
    assert check(token())["aud"] == APP_ID
    assert check(token(), service_url=SERVICE_URL.rstrip("/"))  # trailing slash does not matter


@pytest.mark.parametrize(
    "raw,activity_service_url,channel_id",
    [
        (token(aud="someone-else"), SERVICE_URL, "msteams"),
        (token(iss="https://sts.windows.net/evil/"), SERVICE_URL, "msteams"),
        (token(exp=int(time.time()) - 600), SERVICE_URL, "msteams"),  # beyond the 5 minutes of clock skew
        (token(exp=None), SERVICE_URL, "msteams"),
        (token(key=OTHER_KEY), SERVICE_URL, "msteams"),  # known kid, wrong signature
        (token(), "https://attacker.example/", "msteams"),  # token is for another serviceUrl
        (token(serviceurl=None), SERVICE_URL, "msteams"),
        (token(), SERVICE_URL, "skype"),  # key not endorsed for that channel
        (token(key="a-shared-secret-of-at-least-32-bytes!", algorithm="HS256"), SERVICE_URL, "msteams"),
        (jwt.encode({"aud": APP_ID}, None, algorithm="none", headers={"kid": "k1"}), SERVICE_URL, "msteams"),
        ("not-a-jwt", SERVICE_URL, "msteams"),
    ],
)
def test_other_tokens_are_refused(raw, activity_service_url, channel_id):
    with pytest.raises(TokenError):
        check(raw, activity_service_url, channel_id)


def test_an_unknown_key_is_reported_as_such_so_keys_can_be_refreshed():
    with pytest.raises(UnknownKey):
        check(token(key=OTHER_KEY, kid="rotated"))
