"""Sign generated platform requests as Slack, Twilio and the Bot Connector would, so they reach the parsers."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from channels.whatsapp_twilio import parse_form


def slack_headers(secret: str, body: bytes, how: str) -> dict[str, str]:
    """Slack's v0 signature headers: `valid`, `stale` (an hour old), `wrong` (another secret) or `none`."""
    if how == "none":
        return {}
    stamp = str(int(time.time()) - (3600 if how == "stale" else 0))
    key = (secret if how != "wrong" else secret + "x").encode()
    digest = hmac.new(key, f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


class _MultiDict(dict[str, list[str]]):
    def getlist(self, name: str) -> list[str]:
        return self[name]


def twilio_signature(auth_token: str, url: str, body: bytes, how: str) -> dict[str, str]:
    """`X-Twilio-Signature` over the public URL and the form as the channel parses it (`valid`, `wrong`, `none`)."""
    if how == "none":
        return {}
    try:
        params: Mapping[str, list[str]] = parse_form(body)
    except UnicodeDecodeError:
        params = {}
    token = auth_token if how == "valid" else auth_token + "x"
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, _MultiDict(params))}
