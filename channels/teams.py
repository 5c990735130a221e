"""Microsoft Teams through the Azure Bot Service (Bot Framework), configured from the environment.

Inbound: every activity must carry `Authorization: Bearer <JWT>` issued by the Bot Connector: RS256, signed by a
key from the JWKS named in the OpenID metadata document (`TEAMS_OPENID_METADATA_URL`), issuer = the metadata's
`issuer`, audience = our app id, not expired (5 minutes clock skew), endorsed for the activity's `channelId`, and its
`serviceurl` claim equal to the activity's `serviceUrl` (so a token cannot send our replies, and our access token,
elsewhere). Anything else gets 401 and nothing is sent.
Outbound: a client-credentials token from `TEAMS_TOKEN_URL`, then POST `<serviceUrl>/v3/conversations/<id>/activities`.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text, Tuple
from urllib.parse import quote

import aiohttp
import jwt
from jwt.algorithms import RSAAlgorithm
from rasa.core.channels.botframework import BotFramework, BotFrameworkInput
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import env, guard, log, refuse, unconfigured, webhook_blueprint

REQUIRED = ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD")
DEFAULT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
DEFAULT_TENANT = "botframework.com"  # multi-tenant bots; single-tenant ones set TEAMS_TENANT_ID
TOKEN_URL_TEMPLATE = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
SCOPE = "https://api.botframework.com/.default"
CLOCK_SKEW_SECONDS = 5 * 60
KEYS_MAX_AGE_SECONDS = 24 * 3600
KEYS_MIN_REFRESH_SECONDS = 60  # an unknown `kid` refetches the keys at most this often
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)
BEARER = re.compile(r"^Bearer\s+(\S+)$")
MENTION = re.compile(r"<at>[^<]*</at>")


class TokenError(Exception):
    """The bearer token is not one the Bot Connector issued for this bot and this activity."""


class UnknownKey(TokenError):
    """The token names a signing key we do not have (yet)."""


def validate_token(token: str, *, keys: Mapping[str, Dict[str, Any]], issuer: str, app_id: str,
                   service_url: Optional[str], channel_id: Optional[str]) -> Dict[str, Any]:
    """The token's claims if it is valid for this activity; raises TokenError otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as err:
        raise TokenError(f"malformed token: {err}") from err
    if header.get("alg") != "RS256":
        raise TokenError(f"algorithm {header.get('alg')!r} not allowed")
    jwk = keys.get(str(header.get("kid")))
    if jwk is None:
        raise UnknownKey(f"unknown signing key {header.get('kid')!r}")
    endorsements = jwk.get("endorsements")
    if endorsements is not None and (not isinstance(channel_id, str) or channel_id not in endorsements):
        raise TokenError(f"signing key not endorsed for channel {channel_id!r}")
    try:
        claims = jwt.decode(token, RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"], audience=app_id, issuer=issuer,
                            leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iss", "aud"]})
    except (jwt.PyJWTError, ValueError) as err:
        raise TokenError(str(err)) from err
    claimed = claims.get("serviceurl") or claims.get("serviceUrl")
    if not isinstance(service_url, str) or not isinstance(claimed, str) or not service_url \
            or claimed.rstrip("/") != service_url.rstrip("/"):
        raise TokenError("token's serviceurl does not match the activity's serviceUrl")
    return claims


@dataclass
class SigningKeys:
    """The Bot Connector's signing keys, discovered from the OpenID metadata document and cached."""

    metadata_url: str
    issuer: str = ""
    keys: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = 0.0
    _lock: Optional[asyncio.Lock] = None

    async def refresh(self, force: bool = False) -> None:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            age = time.monotonic() - self.fetched_at
            if self.keys and (age < KEYS_MIN_REFRESH_SECONDS or (not force and age < KEYS_MAX_AGE_SECONDS)):
                return
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
                async with http.get(self.metadata_url) as answer:
                    answer.raise_for_status()
                    metadata = await answer.json(content_type=None)
                async with http.get(metadata["jwks_uri"]) as answer:
                    answer.raise_for_status()
                    jwks = await answer.json(content_type=None)
            self.issuer = metadata.get("issuer") or "https://api.botframework.com"
            self.keys = {str(key["kid"]): key for key in jwks["keys"] if "kid" in key}
            self.fetched_at = time.monotonic()


class TeamsOutput(BotFramework):
    """Rasa's Bot Framework output with a configurable token URL, async HTTP and the conversation id URL-encoded."""

    _tokens: Dict[Tuple[str, str], Tuple[str, float]] = {}

    @classmethod
    def name(cls) -> Text:
        return "teams"

    def __init__(self, app_id: Text, app_password: Text, conversation: Dict[Text, Any], bot: Any,
                 service_url: Text, token_url: Text) -> None:
        super().__init__(app_id, app_password, conversation, bot, service_url)
        self.token_url = token_url

    async def _get_headers(self) -> Optional[Dict[Text, Any]]:
        cached = self._tokens.get((self.token_url, self.app_id))
        if not cached or cached[1] < time.time() + 60:
            form = {"grant_type": "client_credentials", "client_id": self.app_id,
                    "client_secret": self.app_password, "scope": SCOPE}
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
                async with http.post(self.token_url, data=form) as answer:
                    if answer.status != 200:
                        log.error("Teams: token request refused (%s)", answer.status)
                        return None
                    data = await answer.json(content_type=None)
            cached = (data["access_token"], time.time() + int(data.get("expires_in", 3600)))
            self._tokens[(self.token_url, self.app_id)] = cached
        return {"content-type": "application/json", "Authorization": f"Bearer {cached[0]}"}

    async def send(self, message_data: Dict[Text, Any]) -> None:
        headers = await self._get_headers()
        if headers is None:
            return
        url = f"{self.global_uri}conversations/{quote(str(self.conversation['id']), safe='')}/activities"
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            async with http.post(url, json=message_data, headers=headers) as answer:
                if answer.status >= 300:
                    log.error("Teams: sending a reply failed (%s): %s", answer.status, await answer.text())


class TeamsChannel(InputChannel):
    """`channels.teams.TeamsChannel` in credentials.yml; messaging endpoint `/webhooks/teams/webhook`."""

    @classmethod
    def name(cls) -> Text:
        return "teams"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        unset = unconfigured("Teams", REQUIRED)
        tenant = env("TEAMS_TENANT_ID", DEFAULT_TENANT)
        return cls(env("TEAMS_APP_ID", ""), env("TEAMS_APP_PASSWORD", ""),
                   env("TEAMS_OPENID_METADATA_URL", DEFAULT_OPENID_URL),
                   env("TEAMS_TOKEN_URL") or TOKEN_URL_TEMPLATE.format(tenant=tenant), unset)

    def __init__(self, app_id: str, app_password: str, openid_url: str, token_url: str,
                 unset: Optional[List[str]] = None) -> None:
        self.app_id = app_id
        self.app_password = app_password
        self.token_url = token_url
        self.keys = SigningKeys(openid_url)  # fetched on the first request, not at start-up
        self.unset = list(unset or [])

    async def authenticate(self, authorization: Optional[str], activity: Dict[str, Any]) -> None:
        match = BEARER.match(authorization or "")
        if not match:
            raise TokenError("no bearer token")
        await self.keys.refresh()
        kwargs = dict(issuer=self.keys.issuer, app_id=self.app_id, service_url=activity.get("serviceUrl"),
                      channel_id=activity.get("channelId"))
        try:
            validate_token(match.group(1), keys=self.keys.keys, **kwargs)
        except UnknownKey:
            await self.keys.refresh(force=True)  # Microsoft rotates keys: look once more
            validate_token(match.group(1), keys=self.keys.keys, **kwargs)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        teams_webhook = webhook_blueprint("teams_webhook")

        @teams_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                activity = request.json
            except Exception:
                activity = None
            if not isinstance(activity, dict):
                return refuse(400, "invalid_request", "The body must be a Bot Framework activity (JSON object).")
            try:
                await self.authenticate(request.headers.get("Authorization"), activity)
            except TokenError as err:
                log.warning("Teams request refused: %s", err)
                return refuse(401, "unauthorized", "Missing or invalid Bot Connector token.")
            except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as err:
                log.error("Teams: could not fetch the signing keys from %s: %s", self.keys.metadata_url, err)
                return refuse(503, "key_discovery_failed", "Could not fetch the Bot Connector signing keys.")
            if activity.get("type") != "message":
                return response.text("", status=200)
            sender = (activity.get("from") or {}).get("id")
            conversation = activity.get("conversation") or {}
            if not isinstance(sender, str) or not sender or not conversation.get("id"):
                return refuse(400, "invalid_request", "A message activity needs from.id and conversation.id.")
            output = TeamsOutput(self.app_id, self.app_password, conversation, activity.get("recipient"),
                                 activity["serviceUrl"], self.token_url)
            text = MENTION.sub("", activity.get("text") or "").strip()
            metadata = BotFrameworkInput.add_attachments_to_metadata(activity, None)
            await on_new_message(UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata))
            return response.text("", status=200)

        return guard(teams_webhook, "Teams", self.unset)
