"""Microsoft Teams through the Azure Bot Service (Bot Framework), configured from the environment.

Inbound: every activity must carry `Authorization: Bearer <JWT>` issued by the Bot Connector: RS256, signed by a
key from the JWKS named in the OpenID metadata document (`TEAMS_OPENID_METADATA_URL`), issuer = the metadata's
`issuer`, audience = our app id, not expired (5 minutes clock skew), endorsed for the activity's `channelId`, and its
`serviceurl` claim equal to the activity's `serviceUrl` (so a token cannot send our replies, and our access token,
elsewhere). Anything else gets 401 and nothing is sent. The keys are fetched and cached by PyJWT's `PyJWKClient`,
which refetches them when a token names a key it has not seen (Microsoft rotates them), at most once per
`TEAMS_KEYS_MIN_REFRESH_SECONDS`.
Outbound: a client-credentials token from `TEAMS_TOKEN_URL`, then POST `<serviceUrl>/v3/conversations/<id>/activities`,
retried when either is refused (5xx, 429) or unreachable (`channels/delivery.py`), after the webhook has answered.
Each activity id is processed once (`channels/inbound.py`: the Bot Connector retries too), and the conversation id
Rasa sees is `teams:<from.id>`; replies go to the raw `from.id`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from rasa.core.channels.botframework import BotFramework, BotFrameworkInput
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import (
    conversation_id,
    env,
    guard,
    log,
    platform_id,
    refuse,
    unconfigured,
    valid_unicode,
    webhook_blueprint,
)
from channels.delivery import DeliveryPolicy, SendRefused, deliver, retry_after_seconds
from channels.inbound import Turns
from foundation import correlation

REQUIRED = ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD")
DEFAULT_OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
DEFAULT_TENANT = "botframework.com"  # multi-tenant bots; single-tenant ones set TEAMS_TENANT_ID
TOKEN_URL_TEMPLATE = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
SCOPE = "https://api.botframework.com/.default"
CLOCK_SKEW_SECONDS = 5 * 60
KEYS_MAX_AGE_SECONDS = 24 * 3600  # the metadata and the keys are re-read once a day
KEYS_MIN_REFRESH_SECONDS = 60  # default: an unknown `kid` refetches the keys at most this often
HTTP_TIMEOUT_SECONDS = 15
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_SECONDS)
BEARER = re.compile(r"^Bearer\s+(\S+)$")
MENTION = re.compile(r"<at>[^<]*</at>")


class TokenError(Exception):
    """The bearer token is not one the Bot Connector issued for this bot and this activity."""


class UnknownKey(TokenError):
    """The token names a signing key the Bot Connector does not publish (not even after a refetch)."""


class KeyDiscoveryFailed(Exception):
    """The OpenID metadata or the JWKS could not be fetched or read: no token can be checked right now."""


def signing_key_id(token: str) -> str:
    """The `kid` of an RS256 token's header, read before any key is fetched; raises TokenError otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as err:
        raise TokenError(f"malformed token: {err}") from err
    if header.get("alg") != "RS256":
        raise TokenError(f"algorithm {header.get('alg')!r} not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("the token names no signing key")
    return kid


def validate_token(
    token: str,
    *,
    keys: Mapping[str, Mapping[str, Any]],
    issuer: str,
    app_id: str,
    service_url: str | None,
    channel_id: str | None,
) -> dict[str, Any]:
    """The token's claims if it is valid for this activity; raises TokenError otherwise.

    `keys` are the JWKs as the Bot Connector publishes them, by `kid`, with their `endorsements` (the channels
    each key may sign for)."""
    kid = signing_key_id(token)
    jwk = keys.get(kid)
    if jwk is None:
        raise UnknownKey(f"unknown signing key {kid!r}")
    endorsements = jwk.get("endorsements")
    if endorsements is not None and (not isinstance(channel_id, str) or channel_id not in endorsements):
        raise TokenError(f"signing key not endorsed for channel {channel_id!r}")
    try:
        public_key = RSAAlgorithm.from_jwk(dict(jwk))
        if not isinstance(public_key, RSAPublicKey):  # a JWK with a private part: never what the connector publishes
            raise TokenError("signing key is not an RSA public key")
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            audience=app_id,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except (jwt.PyJWTError, ValueError) as err:
        raise TokenError(str(err)) from err
    claimed = claims.get("serviceurl") or claims.get("serviceUrl")
    if (
        not isinstance(service_url, str)
        or not isinstance(claimed, str)
        or not service_url
        or claimed.rstrip("/") != service_url.rstrip("/")
    ):
        raise TokenError("token's serviceurl does not match the activity's serviceUrl")
    return claims


class PublishedKeys(jwt.PyJWKClient):
    """PyJWT's JWKS client (fetch, cache, one refetch for an unseen `kid` after a cooldown) that also keeps every key
    as published: Microsoft's `endorsements` are not part of PyJWT's `PyJWK`, and the endorsement check needs them."""

    def __init__(self, uri: str, *, refresh_cooldown: float) -> None:
        super().__init__(
            uri, lifespan=KEYS_MAX_AGE_SECONDS, cooldown_duration=refresh_cooldown, timeout=HTTP_TIMEOUT_SECONDS
        )
        self.published: dict[str, dict[str, Any]] = {}

    def fetch_data(self) -> Any:
        data = super().fetch_data()
        keys = data.get("keys") if isinstance(data, dict) else None
        self.published = (
            {str(key["kid"]): key for key in keys if isinstance(key, dict) and "kid" in key}
            if isinstance(keys, list)
            else {}
        )
        return data


@dataclass
class SigningKeys:
    """The Bot Connector's issuer and signing keys, discovered from the OpenID metadata document (re-read once a
    day); the keys themselves are fetched and cached by `PublishedKeys`."""

    metadata_url: str
    refresh_cooldown: float = KEYS_MIN_REFRESH_SECONDS
    issuer: str = ""
    jwks: PublishedKeys | None = None
    discovered_at: float = 0.0
    _lock: asyncio.Lock | None = None

    async def discover(self) -> PublishedKeys:
        """The JWKS client for the metadata's `jwks_uri`; raises KeyDiscoveryFailed when the metadata is unreadable."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self.jwks is not None and time.monotonic() - self.discovered_at < KEYS_MAX_AGE_SECONDS:
                return self.jwks
            try:
                async with (
                    aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
                    http.get(self.metadata_url) as answer,
                ):
                    answer.raise_for_status()
                    metadata = await answer.json(content_type=None)
                jwks_uri = metadata["jwks_uri"]
                if self.jwks is None or self.jwks.uri != jwks_uri:  # otherwise keep the cached keys
                    self.jwks = PublishedKeys(jwks_uri, refresh_cooldown=self.refresh_cooldown)
            except (
                aiohttp.ClientError,
                asyncio.TimeoutError,
                KeyError,
                TypeError,
                ValueError,
                jwt.PyJWKClientError,
            ) as err:
                raise KeyDiscoveryFailed(f"OpenID metadata {self.metadata_url}: {err!r}") from err
            self.issuer = metadata.get("issuer") or "https://api.botframework.com"
            self.discovered_at = time.monotonic()
            return self.jwks

    async def published_with(self, kid: str) -> Mapping[str, dict[str, Any]]:
        """The published keys, `kid` among them: PyJWKClient refetches the set when `kid` is not in its cache (at
        most once per cooldown); raises UnknownKey when it is still not there, KeyDiscoveryFailed when the JWKS
        cannot be fetched."""
        jwks = await self.discover()
        try:
            await asyncio.to_thread(jwks.get_signing_key, kid)  # urllib underneath: kept off the event loop
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as err:
            raise KeyDiscoveryFailed(f"JWKS {jwks.uri}: {err}") from err
        except jwt.PyJWKClientError as err:
            raise UnknownKey(str(err)) from err
        return jwks.published


def seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment; `default` when unset."""
    text = env(name)
    try:
        value = default if text is None else float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a number of seconds, 0 or more, not {text!r}")
    return value


class TeamsOutput(BotFramework):
    """Rasa's Bot Framework output with a configurable token URL, async HTTP, the conversation id URL-encoded and
    every reply retried by `deliver`."""

    # The access tokens, shared by every instance on purpose: keyed by token URL and app id.
    _tokens: ClassVar[dict[tuple[str, str], tuple[str, float]]] = {}

    @classmethod
    def name(cls) -> str:
        return "teams"

    def __init__(
        self,
        app_id: str,
        app_password: str,
        conversation: dict[str, Any],
        bot: Any,
        service_url: str,
        token_url: str,
        policy: DeliveryPolicy | None = None,
        rasa_conversation: str = "",
    ) -> None:
        super().__init__(app_id, app_password, conversation, bot, service_url)
        self.token_url = token_url
        self.policy = policy
        self.rasa_conversation = rasa_conversation  # `teams:<from.id>`, for the delivery log's conversation ref

    def prepare_message(self, recipient_id: str, message_data: dict[str, Any]) -> dict[str, Any]:
        """Rasa's activity, addressed to the raw `from.id` inside the `teams:` conversation id."""
        return super().prepare_message(platform_id("teams", recipient_id), message_data)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await super().send_custom_json(platform_id("teams", recipient_id), json_message, **kwargs)

    async def _get_headers(self) -> dict[str, Any] | None:
        cached = self._tokens.get((self.token_url, self.app_id))
        if not cached or cached[1] < time.time() + 60:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.app_id,
                "client_secret": self.app_password,
                "scope": SCOPE,
            }
            async with (
                aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
                http.post(self.token_url, data=form) as answer,
            ):
                if answer.status != 200:
                    raise SendRefused(answer.status, retry_after_seconds(answer.headers))
                data = await answer.json(content_type=None)
            cached = (data["access_token"], time.time() + int(data.get("expires_in", 3600)))
            self._tokens[(self.token_url, self.app_id)] = cached
        return {"content-type": "application/json", "Authorization": f"Bearer {cached[0]}"}

    async def _send_once(self, message_data: dict[str, Any]) -> None:
        """One attempt: the access token (cached), then the activity; SendRefused for an error answer."""
        headers = await self._get_headers()
        url = f"{self.global_uri}conversations/{quote(str(self.conversation['id']), safe='')}/activities"
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
            http.post(url, json=message_data, headers=headers) as answer,
        ):
            if answer.status == 401:  # a token the connector no longer takes: the next reply fetches a new one
                self._tokens.pop((self.token_url, self.app_id), None)
            if answer.status >= 300:
                raise SendRefused(answer.status, retry_after_seconds(answer.headers))

    async def send(self, message_data: dict[str, Any]) -> None:
        conversation = self.rasa_conversation or str(self.conversation.get("id", ""))
        await deliver("teams", conversation, lambda: self._send_once(message_data), self.policy)


def message_activity_problem(activity: dict[str, Any]) -> str | None:
    """What makes a message activity unusable (the parts this connector reads), or None."""
    sender, conversation = activity.get("from"), activity.get("conversation")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), str) or not sender["id"]:
        return "A message activity needs from.id (a string)."
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) or not conversation["id"]:
        return "A message activity needs conversation.id (a string)."
    if not isinstance(activity.get("text") or "", str):
        return "`text` must be a string."
    if not isinstance(activity.get("recipient") or {}, dict):
        return "`recipient` must be an object."
    if not valid_unicode(activity):
        return "The activity holds text that is not valid Unicode."
    attachments = activity.get("attachments") or []
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        return "`attachments` must be a list of objects."
    return None


class TeamsChannel(InputChannel):
    """`channels.teams.TeamsChannel` in credentials.yml; messaging endpoint `/webhooks/teams/webhook`."""

    @classmethod
    def name(cls) -> str:
        return "teams"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        unset = unconfigured("Teams", REQUIRED)
        tenant = env("TEAMS_TENANT_ID", DEFAULT_TENANT)
        return cls(
            env("TEAMS_APP_ID", ""),
            env("TEAMS_APP_PASSWORD", ""),
            env("TEAMS_OPENID_METADATA_URL", DEFAULT_OPENID_URL),
            env("TEAMS_TOKEN_URL") or TOKEN_URL_TEMPLATE.format(tenant=tenant),
            unset,
            keys_refresh_cooldown=seconds("TEAMS_KEYS_MIN_REFRESH_SECONDS", KEYS_MIN_REFRESH_SECONDS),
        )

    def __init__(
        self,
        app_id: str,
        app_password: str,
        openid_url: str,
        token_url: str,
        unset: list[str] | None = None,
        keys_refresh_cooldown: float = KEYS_MIN_REFRESH_SECONDS,
    ) -> None:
        self.app_id = app_id
        self.app_password = app_password
        self.token_url = token_url
        self.keys = SigningKeys(openid_url, keys_refresh_cooldown)  # fetched on the first request, not at start-up
        self.unset = list(unset or [])
        self.turns = Turns("teams")

    async def authenticate(self, authorization: str | None, activity: dict[str, Any]) -> None:
        match = BEARER.match(authorization or "")
        if not match:
            raise TokenError("no bearer token")
        token = match.group(1)
        keys = await self.keys.published_with(signing_key_id(token))  # junk tokens are refused before any fetch
        validate_token(
            token,
            keys=keys,
            issuer=self.keys.issuer,
            app_id=self.app_id,
            service_url=activity.get("serviceUrl"),
            channel_id=activity.get("channelId"),
        )

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
            except KeyDiscoveryFailed as err:
                log.error("Teams: could not fetch the signing keys: %s", err)
                return refuse(503, "key_discovery_failed", "Could not fetch the Bot Connector signing keys.")
            if activity.get("type") != "message":
                return response.text("", status=200)
            problem = message_activity_problem(activity)
            if problem:
                return refuse(400, "invalid_request", problem)
            sender = activity["from"]["id"]
            conversation = activity["conversation"]
            conversation_key = conversation_id("teams", sender)
            output = TeamsOutput(
                self.app_id,
                self.app_password,
                conversation,
                activity.get("recipient"),
                activity["serviceUrl"],
                self.token_url,
                rasa_conversation=conversation_key,
            )
            text = MENTION.sub("", activity.get("text") or "").strip()
            correlation_id = correlation.accept(request.headers.get(correlation.HEADER))
            metadata = BotFrameworkInput.add_attachments_to_metadata(activity, None) or {}
            metadata[correlation.METADATA_KEY] = correlation_id
            message = UserMessage(text, output, conversation_key, input_channel=self.name(), metadata=metadata)
            activity_id = activity.get("id")
            with correlation.bound(correlation_id):  # the turn's task keeps it
                await self.turns.start(
                    activity_id if isinstance(activity_id, str) and activity_id else None,
                    conversation_key,
                    lambda: on_new_message(message),
                )
            return response.text("", status=200)  # a duplicate too: the connector stops retrying

        return guard(teams_webhook, "Teams", self.unset)
