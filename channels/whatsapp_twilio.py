"""WhatsApp through Twilio, hardened: Rasa 3.6's `twilio` channel accepts unsigned requests.

Inbound (`/webhooks/whatsapp/webhook`): `X-Twilio-Signature` must be Twilio's HMAC-SHA1 (auth token) of the public
webhook URL (`TWILIO_WEBHOOK_URL`, needed behind a proxy; otherwise the URL the request arrived on) followed by
the sorted POST parameters: 403 otherwise. Then `From`/`To` must be `whatsapp:+<digits>`, `MessageSid` an SM/MM id,
`AccountSid` ours and `Body` present: 400 otherwise. The sender's number is only the conversation key: the
message's metadata carries the message id, its correlation id (foundation/correlation.py) and nothing from the
request that could pass for an identity (no `customer_token`, no verified customer), so order details still need
the in-chat verification.
Outbound: `POST <TWILIO_API_URL>/2010-04-01/Accounts/<sid>/Messages.json` with basic auth, retried when Twilio
refuses it (5xx, 429) or cannot be reached (`channels/delivery.py`). The webhook answers Twilio's empty TwiML as
soon as the message is accepted; the turn runs after (`channels/inbound.py`), once per `MessageSid` (Twilio retries
too). The conversation id stays Twilio's `whatsapp:+<number>`, already namespaced by channel.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from channels.common import env, guard, log, refuse, unconfigured, webhook_blueprint
from channels.delivery import DeliveryPolicy, SendRefused, deliver, retry_after_seconds
from channels.inbound import Turns
from foundation import correlation

REQUIRED = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
DEFAULT_API_URL = "https://api.twilio.com"
WHATSAPP_NUMBER = re.compile(r"^whatsapp:\+[1-9][0-9]{6,14}$")
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-f]{32}$")
MAX_BODY = 4096  # WhatsApp's limit for a text message
MAX_REPLY = 1600  # Twilio's limit for one outbound message body
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=15)


class InvalidMessage(ValueError):
    """A signed request whose fields are missing or malformed."""


class _Form(dict[str, list[str]]):
    """The parsed form as Twilio's validator wants it (a multi-dict with `getlist`)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def parse_form(body: bytes) -> dict[str, list[str]]:
    """Every POST parameter, blank ones included (they are part of the signature; Sanic's `request.form` drops them)."""
    return parse_qs(body.decode("utf-8", errors="strict"), keep_blank_values=True, strict_parsing=False)


def twilio_signature_valid(auth_token: str, url: str, params: Mapping[str, list[str]], signature: str | None) -> bool:
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, _Form(params), signature))


@dataclass(frozen=True)
class Inbound:
    sender: str
    to: str
    body: str
    message_sid: str


def parse_inbound(params: Mapping[str, list[str]], account_sid: str) -> Inbound:
    """The message's fields, or InvalidMessage naming the first missing or malformed one."""

    def one(name: str) -> str:
        values = params.get(name)
        if not values:
            raise InvalidMessage(f"{name} is required")
        if len(values) != 1:
            raise InvalidMessage(f"{name} must be given once")
        return values[0]

    sender, to, sid, body = one("From"), one("To"), one("MessageSid"), one("Body")
    if not WHATSAPP_NUMBER.match(sender):
        raise InvalidMessage("From must look like whatsapp:+<country code and number>")
    if not WHATSAPP_NUMBER.match(to):
        raise InvalidMessage("To must look like whatsapp:+<country code and number>")
    if not MESSAGE_SID.match(sid):
        raise InvalidMessage("MessageSid is malformed")
    if one("AccountSid") != account_sid:
        raise InvalidMessage("AccountSid is not this account")
    if len(body) > MAX_BODY:
        raise InvalidMessage("Body is too long")
    return Inbound(sender=sender, to=to, body=body, message_sid=sid)


def chunks(text: str, limit: int = MAX_REPLY) -> list[str]:
    """Split a reply at paragraph breaks (hard-cut only a paragraph longer than the limit)."""
    parts: list[str] = []
    for paragraph in text.strip().split("\n\n"):
        if parts and len(parts[-1]) + 2 + len(paragraph) <= limit:
            parts[-1] += "\n\n" + paragraph
        else:
            parts.extend(paragraph[i : i + limit] for i in range(0, max(len(paragraph), 1), limit))
    return [part for part in parts if part.strip()]


class WhatsAppOutput(OutputChannel):
    """Replies through Twilio's Messages API, each message retried by `deliver`."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(
        self, account_sid: str, auth_token: str, from_number: str, api_url: str, policy: DeliveryPolicy | None = None
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.policy = policy

    async def _send_once(self, form: dict[str, str]) -> None:
        """One attempt; SendRefused for an error answer (its body is not logged: it can repeat the number)."""
        async with (
            aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
            http.post(
                self.url,
                data={"From": self.from_number, **form},
                auth=aiohttp.BasicAuth(self.account_sid, self.auth_token),
            ) as answer,
        ):
            if answer.status >= 300:
                raise SendRefused(answer.status, retry_after_seconds(answer.headers))

    async def _send(self, form: dict[str, str]) -> None:
        await deliver("whatsapp", form["To"], lambda: self._send_once(form), self.policy)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in chunks(text):
            await self._send({"To": recipient_id, "Body": part})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Plain WhatsApp text has no buttons: list the choices; the shopper answers in words."""
        choices = "\n".join(f"- {button['title']}" for button in buttons)
        await self.send_text_message(recipient_id, f"{text}\n{choices}" if choices else text)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send({"To": recipient_id, "MediaUrl": image})


class WhatsAppChannel(InputChannel):
    """`channels.whatsapp_twilio.WhatsAppChannel` in credentials.yml; webhook `/webhooks/whatsapp/webhook`."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        unset = unconfigured("WhatsApp", REQUIRED)
        return cls(
            env("TWILIO_ACCOUNT_SID", ""),
            env("TWILIO_AUTH_TOKEN", ""),
            env("TWILIO_WHATSAPP_NUMBER"),
            env("TWILIO_WEBHOOK_URL"),
            env("TWILIO_API_URL", DEFAULT_API_URL),
            unset,
        )

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        number: str | None,
        webhook_url: str | None,
        api_url: str = DEFAULT_API_URL,
        unset: list[str] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.number = number
        self.webhook_url = webhook_url
        self.api_url = api_url
        self.unset = list(unset or [])
        self.turns = Turns("whatsapp")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        whatsapp_webhook = webhook_blueprint("whatsapp_webhook")

        @whatsapp_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                params = parse_form(request.body)
            except UnicodeDecodeError:
                params = {}
            url = self.webhook_url or request.url
            if not twilio_signature_valid(self.auth_token, url, params, request.headers.get("X-Twilio-Signature")):
                log.warning("WhatsApp request refused: bad or missing X-Twilio-Signature for %s", url)
                return refuse(403, "invalid_signature", "Missing or invalid X-Twilio-Signature.")
            try:
                message = parse_inbound(params, self.account_sid)
            except InvalidMessage as err:
                return refuse(400, "invalid_request", str(err))
            if message.body.strip():
                output = WhatsAppOutput(self.account_sid, self.auth_token, self.number or message.to, self.api_url)
                # Deliberately nothing else from the request: the phone number is no proof of identity.
                correlation_id = correlation.accept(request.headers.get(correlation.HEADER))
                metadata = {"whatsapp": {"message_sid": message.message_sid}, correlation.METADATA_KEY: correlation_id}
                user_message = UserMessage(
                    message.body, output, message.sender, input_channel=self.name(), metadata=metadata
                )
                with correlation.bound(correlation_id):  # the turn's task keeps it
                    await self.turns.start(message.message_sid, message.sender, lambda: on_new_message(user_message))
            return response.text(EMPTY_TWIML, content_type="text/xml")  # a duplicate too: Twilio stops retrying

        return guard(whatsapp_webhook, "WhatsApp", self.unset)
