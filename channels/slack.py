"""Slack (Events API) with the signing secret, the bot token and the Slack API address from the environment.

Rasa 3.6's `SlackInput` already skips events carrying a `bot_id` and ignores retries for `http_timeout` only.
This subclass adds: secrets from the environment (503 when unset), `X-Slack-Signature` checked with slack_sdk's
`SignatureVerifier` (HMAC-SHA256 of `v0:<timestamp>:<body>`, timestamps more than 5 minutes off refused) and a 401
JSON refusal for a bad or stale signature, Slack's retries (`X-Slack-Retry-Num`) deduplicated by the body's
`event_id` (`channels/inbound.py`: the first delivery of an event is processed, a retry of one already processed or
in progress is acknowledged without processing, a retry of one whose first attempt failed is processed), every
accepted event answered after the acknowledgement, the conversation id namespaced as `slack:<Rasa's id>`, message
subtypes (`bot_message`, edits, joins) and the bot user's own messages ignored, replies through a configurable
Web API base URL (`SLACK_API_URL`) retried when Slack refuses them or cannot be reached (`channels/delivery.py`),
and each message's correlation id (foundation/correlation.py) in its metadata and its turn's context.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.common import conversation_id, env, guard, log, platform_id, refuse, unconfigured, valid_unicode
from channels.delivery import DeliveryPolicy, SendRefused, deliver, retry_after_seconds
from channels.inbound import Turns
from channels.slack_shapes import SlackEventsBody, SlackInteractivePayload, shape_problem
from foundation import correlation

REQUIRED = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
DEFAULT_API_URL = "https://slack.com/api/"


class FixedClock(Clock):
    """A clock stopped at `now` (epoch seconds), so a signature can be checked as of a given moment."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def slack_signature_valid(
    secret: str, timestamp: str | None, body: bytes, signature: str | None, now: float | None = None
) -> bool:
    """Slack's v0 request signature, checked by slack_sdk's `SignatureVerifier` (which also refuses timestamps more
    than 5 minutes from now); False instead of an exception for a missing secret or a malformed timestamp or body."""
    if not secret or not secret.strip() or not timestamp or not signature:
        return False
    if not (timestamp.isascii() and timestamp.isdigit()):  # the verifier would raise on int("17181e9")
        return False
    verifier = SignatureVerifier(secret, clock=Clock() if now is None else FixedClock(now))
    try:
        return verifier.is_valid(body, timestamp, signature)
    except UnicodeDecodeError:  # the verifier decodes the body as UTF-8; Slack sends UTF-8 JSON or forms
        return False


class SlackOutput(SlackBot):
    """Rasa's Slack output, posting to a configurable Web API base URL, each post retried by `deliver`."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    def __init__(
        self,
        token: str,
        slack_channel: str | None = None,
        thread_id: str | None = None,
        proxy: str | None = None,
        api_url: str = DEFAULT_API_URL,
        conversation: str = "",
        policy: DeliveryPolicy | None = None,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        # No retry handlers of slack_sdk's own: `deliver` decides every retry.
        self.client = AsyncWebClient(token, base_url=api_url.rstrip("/") + "/", proxy=proxy, retry_handlers=[])
        self.conversation = conversation
        self.policy = policy

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        channel = platform_id("slack", channel)  # the conversation id stands in when no Slack channel is known

        async def post_once() -> None:
            try:
                await SlackBot._post_message(self, channel, **kwargs)
            except SlackApiError as error:
                raise SendRefused(error.response.status_code, retry_after_seconds(error.response.headers)) from None

        await deliver("slack", self.conversation or channel, post_once, self.policy)


def slack_body_refusal(request: Request) -> HTTPResponse | None:
    """A 400 for a signed body Rasa's SlackInput cannot read (it would answer 500), a 200 for an interactive
    payload it has nothing to do with (Rasa answers those 500 too, and Slack would retry); None to go on."""
    content_type = request.headers.get("content-type")
    if content_type == "application/json":
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return refuse(400, "invalid_body", "The body is not JSON.")
        problem = shape_problem(SlackEventsBody, body)
        if problem:
            return refuse(400, "invalid_body", f"Not an Events API body: {problem}.")
        if not valid_unicode(body):
            return refuse(400, "invalid_body", "The body holds text that is not valid Unicode.")
        return None
    if content_type == "application/x-www-form-urlencoded":
        try:
            payload = json.loads(request.form.get("payload") or "")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return refuse(400, "invalid_body", "An interactive request carries a JSON `payload`.")
        problem = shape_problem(SlackInteractivePayload, payload)
        if problem:
            return refuse(400, "invalid_body", f"Not an interactive payload: {problem}.")
        actions, user = payload.get("actions"), payload.get("user")
        try:  # Rasa's own reading of a click, which assumes the payload's shape
            usable = isinstance(user, dict) and isinstance(user.get("id"), str) and isinstance(actions, list)
            text = SlackInput._get_interactive_response(actions[0]) if usable and actions else None
        except (AttributeError, TypeError, IndexError, KeyError):
            text = None
        if not isinstance(text, str) or not SlackInput._is_interactive_message(payload):
            return response.text("")  # nothing this assistant answers: acknowledged, so Slack does not retry
    return None


class SlackChannel(SlackInput):
    """`channels.slack.SlackChannel` in credentials.yml; webhook `/webhooks/slack/webhook`."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        options = credentials or {}
        unset = unconfigured("Slack", REQUIRED)
        return cls(
            env("SLACK_BOT_TOKEN", ""),
            env("SLACK_CHANNEL"),
            env("SLACK_PROXY"),
            "x-slack-retry-reason",
            "x-slack-retry-num",
            None,
            bool(options.get("use_threads", False)),
            env("SLACK_SIGNING_SECRET", ""),
            options.get("conversation_granularity", "sender"),
            api_url=env("SLACK_API_URL", DEFAULT_API_URL),
            unset=unset,
        )

    def __init__(
        self, *args: Any, api_url: str = DEFAULT_API_URL, unset: list[str] | None = None, **kwargs: Any
    ) -> None:
        self.api_url = api_url
        self.unset = list(unset or [])
        self.turns = Turns("slack")
        super().__init__(*args, **kwargs)

    def _validate_credentials(self) -> None:
        if not self.unset:  # an unconfigured channel starts anyway and answers 503
            super()._validate_credentials()

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        return slack_signature_valid(
            self.slack_signing_secret,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.body,
            request.headers.get("X-Slack-Signature"),
        )

    def _is_user_message(self, slack_event: dict[str, Any]) -> bool:
        event = slack_event.get("event") or {}
        if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
            return False
        bot_users = {a.get("user_id") for a in slack_event.get("authorizations") or [] if a.get("is_bot")}
        if event.get("user") in bot_users:
            return False
        return bool(SlackInput._is_user_message(slack_event))

    def _get_conversation_id(self, sender_id: str | None, channel_id: str | None, thread_id: str | None) -> str | None:
        """`slack:` + the id Rasa's SlackInput uses (the user, or user_channel[_thread] by granularity)."""
        raw = super()._get_conversation_id(sender_id, channel_id, thread_id)
        return conversation_id("slack", raw) if raw else raw

    def get_output_channel(
        self, channel: str | None = None, thread_id: str | None = None, conversation: str = ""
    ) -> OutputChannel:
        return SlackOutput(
            self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url, conversation
        )

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: str | None,
        metadata: dict[str, Any] | None,
    ) -> Any:
        """Start the turn once per `event_id` (retries included) and acknowledge at once, within Slack's 3 s."""
        correlation_id = correlation.accept(request.headers.get(correlation.HEADER))
        metadata = {**(metadata or {}), correlation.METADATA_KEY: correlation_id}
        thread_id = metadata.get("thread_id") if self.use_threads else None
        conversation = sender_id or ""
        output = self.get_output_channel(metadata.get("out_channel"), thread_id, conversation)
        message = UserMessage(text, output, sender_id, input_channel=self.name(), metadata=metadata)
        body = request.json if request.headers.get("content-type") == "application/json" else None
        event_id = body.get("event_id") if isinstance(body, dict) else None
        with correlation.bound(correlation_id):  # the turn's task keeps it
            started = await self.turns.start(
                event_id if isinstance(event_id, str) else None, conversation, lambda: on_new_message(message)
            )
        return response.text("") if started else response.text("", headers={"X-Slack-No-Retry": "1"})

    async def _check(self, request: Request) -> HTTPResponse | None:
        if not request.path.rstrip("/").endswith("/webhook"):
            return None
        if not self.is_request_from_slack_authentic(request):
            log.warning("Slack request refused: bad or stale signature")
            return refuse(401, "invalid_signature", "Missing, invalid or stale X-Slack-Signature.")
        retry = request.headers.get("X-Slack-Retry-Num")
        if retry:  # processed unless its event was already (`process_message`)
            log.info("Slack retry #%s (%s)", retry, request.headers.get("X-Slack-Retry-Reason"))
        return slack_body_refusal(request)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return guard(super().blueprint(on_new_message), "Slack", self.unset, self._check)
