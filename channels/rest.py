"""The web widget's channel: `POST /webhooks/rest/webhook`, Rasa's REST channel with its doors shut.

`channels.rest.RestChannel` in credentials.yml (it keeps the name `rest`, so the URL is Rasa's). Against Rasa's own
`RestInput` it:

- keys the conversation `rest:<sender>`, so no REST client reaches a Slack, Teams or WhatsApp conversation, and
  ignores a client's `input_channel` claim;
- refuses a guessable sender id unless a session token vouches for it (channels/sessions.py): 403;
- checks the body: a JSON object with `sender` and `message` strings of bounded length and an optional
  `metadata` object, else 400 (Rasa's own answered 500 to a quarter of generated bodies);
- answers a sender over its rate limit with 429, `Retry-After` and the polite message (foundation/rate_limits.py);
- keeps the session token out of the tracker (it is removed from the metadata once checked);
- gives the message its correlation id (the request's valid `X-Request-ID`, else a new one) in the metadata
  (`correlation_id`) and in the context of the turn (foundation/correlation.py), and answers it back as
  `X-Request-ID` on every response;
- makes the request's `X-Request-ID` the message's id too (`message_id`, which Rasa stores in the `user` event),
  so a retry of the same request (nginx sends every attempt with one id, docker/nginx/cluster.conf) is recognised
  and answered from the tracker store instead of being processed again (rasa_runtime/idempotent_turns.py).

Every refusal is the project's JSON error. The answer is Rasa's: a JSON list of the bot's messages.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import refuse, valid_unicode, webhook_blueprint
from channels.sessions import METADATA_KEY, SessionSettings, admissible
from foundation import correlation
from foundation.rate_limits import RateLimited

log = logging.getLogger("channels.rest")
PREFIX = "rest:"
MAX_SENDER = 128
MAX_MESSAGE = 5000
MAX_METADATA_BYTES = 16384


class BadMessage(ValueError):
    """A request body that is not a message this channel takes; the text says what is wrong."""


def parse_message(body: bytes) -> tuple[str, str, dict[str, Any]]:
    """(sender, text, metadata) of a webhook body; BadMessage naming the first problem."""
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep
        raise BadMessage('The body must be JSON: {"sender": ..., "message": ...}.') from None
    if not isinstance(data, dict):
        raise BadMessage("The body must be a JSON object.")
    if not valid_unicode(data):
        raise BadMessage("The body holds text that is not valid Unicode.")
    sender, text, metadata = data.get("sender"), data.get("message"), data.get("metadata")
    if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER:
        raise BadMessage(f"`sender` must be a non-empty string of at most {MAX_SENDER} characters.")
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        raise BadMessage(f"`message` must be a string of at most {MAX_MESSAGE} characters.")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise BadMessage("`metadata` must be a JSON object.")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise BadMessage(f"`metadata` must be at most {MAX_METADATA_BYTES} bytes of JSON.")
    return sender, text, metadata


def message_id(header: str | None, correlation_id: str) -> str:
    """The message's id: its correlation id, the same for every attempt of a request that carries `X-Request-ID`.

    A header of the right characters that the log masking would change (it looks like a card number) is not kept
    as the correlation id; its hash then stands in, so the retries of that request still share one message id.
    """
    if header != correlation_id and isinstance(header, str) and correlation.ACCEPTED.fullmatch(header):
        return hashlib.sha256(header.encode()).hexdigest()[:32]
    return correlation_id


def conversation_id(sender: str) -> str:
    """The tracker's key of a REST sender: namespaced, so it never equals another channel's."""
    return PREFIX + sender


class RestChannel(InputChannel):
    """`channels.rest.RestChannel` in credentials.yml; webhook `/webhooks/rest/webhook`."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = webhook_blueprint("rest_webhook")
        sessions = SessionSettings.current()

        async def receive(request: Request) -> HTTPResponse:
            header = request.headers.get(correlation.HEADER)
            with correlation.bound(correlation.accept(header)) as correlation_id:
                answer = await respond(request, correlation_id, message_id(header, correlation_id))
            answer.headers[correlation.HEADER] = correlation_id
            return answer

        async def respond(request: Request, correlation_id: str, message_id: str) -> HTTPResponse:
            try:
                sender, text, metadata = parse_message(request.body)
            except BadMessage as problem:
                return refuse(400, "invalid_message", str(problem))
            if not admissible(sender, metadata, sessions):
                return refuse(
                    403,
                    "sender_not_accepted",
                    "`sender` must be an unguessable id (at least 128 random bits, e.g. 22+ URL-safe base64 "
                    "characters; not a UUID) or come with a valid `metadata.session_token` for it.",
                )
            metadata = {k: v for k, v in metadata.items() if k != METADATA_KEY}
            metadata[correlation.METADATA_KEY] = correlation_id  # the channel's, never a client's claim
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                conversation_id(sender),
                input_channel=self.name(),
                message_id=message_id,
                metadata=metadata,
            )
            try:
                await on_new_message(message)
            except RateLimited as limited:
                body = {
                    "error": {
                        "code": "rate_limited",
                        "message": f"Too many messages; retry in {limited.retry_after} s.",
                    },
                    "messages": [{"recipient_id": sender, "text": limited.message}] if limited.message else [],
                }
                return response.json(body, status=429, headers={"Retry-After": str(limited.retry_after)})
            except Exception:  # the message was accepted: say so rather than leave the widget waiting on a 500
                log.exception("REST message failed", extra={"channel": "rest"})
                return refuse(500, "processing_failed", "The assistant could not answer this message.")
            return response.json(collector.messages)

        blueprint.add_route(receive, "/webhook", methods=["POST"])
        return blueprint
