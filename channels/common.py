"""What the channels share: their settings from the environment, one error shape, the unconfigured-channel guard."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import overload

from pydantic import AnyHttpUrl, Field
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from foundation.settings import ProcessSettings

log = logging.getLogger("channels")

Guard = Callable[[Request], Awaitable[HTTPResponse | None]]


class ChannelSettings(ProcessSettings):
    """Every variable the messaging channels read, in the Rasa process (see .env.example).

    Unset is None here: each connector supplies its own default where it has one (`SLACK_API_URL`, ...), and
    answers 503 while a required one is unset. Read once per process, at the first channel's start.
    """

    slack_bot_token: str | None = Field(None, env="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, env="SLACK_SIGNING_SECRET")
    slack_channel: str | None = Field(None, env="SLACK_CHANNEL")
    slack_proxy: str | None = Field(None, env="SLACK_PROXY")
    slack_api_url: AnyHttpUrl | None = Field(None, env="SLACK_API_URL")
    teams_app_id: str | None = Field(None, env="TEAMS_APP_ID")
    teams_app_password: str | None = Field(None, env="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(None, env="TEAMS_TENANT_ID")
    teams_openid_metadata_url: AnyHttpUrl | None = Field(None, env="TEAMS_OPENID_METADATA_URL")
    teams_token_url: AnyHttpUrl | None = Field(None, env="TEAMS_TOKEN_URL")
    teams_keys_min_refresh_seconds: float | None = Field(None, ge=0, env="TEAMS_KEYS_MIN_REFRESH_SECONDS")
    twilio_account_sid: str | None = Field(None, env="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(None, env="TWILIO_AUTH_TOKEN")
    twilio_whatsapp_number: str | None = Field(None, env="TWILIO_WHATSAPP_NUMBER")
    twilio_webhook_url: AnyHttpUrl | None = Field(None, env="TWILIO_WEBHOOK_URL")
    twilio_api_url: AnyHttpUrl | None = Field(None, env="TWILIO_API_URL")
    # Replies the platform refuses (5xx, 429) or cannot be reached for are retried (channels/delivery.py).
    channel_send_max_attempts: int = Field(5, ge=1, env="CHANNEL_SEND_MAX_ATTEMPTS")
    channel_send_backoff_initial: float = Field(0.5, gt=0, env="CHANNEL_SEND_BACKOFF_INITIAL")
    channel_send_backoff_max: float = Field(8.0, gt=0, env="CHANNEL_SEND_BACKOFF_MAX")
    channel_send_retry_after_max: float = Field(60.0, ge=0, env="CHANNEL_SEND_RETRY_AFTER_MAX")
    # Platform retries of one event are processed once (channels/dedup.py); Redis shares that across replicas.
    channel_dedup_redis_url: str | None = Field(None, env="CHANNEL_DEDUP_REDIS_URL")
    channel_dedup_ttl: float = Field(3600.0, gt=0, env="CHANNEL_DEDUP_TTL")
    channel_dedup_claim_seconds: float = Field(300.0, gt=0, env="CHANNEL_DEDUP_CLAIM_SECONDS")
    channel_dedup_max_entries: int = Field(10000, ge=1, env="CHANNEL_DEDUP_MAX_ENTRIES")

    @classmethod
    def field_of(cls, variable: str) -> str:
        """The field a variable is read into; LookupError for a variable no channel declared here."""
        fields: dict[str, str] = {field.field_info.extra["env"]: name for name, field in cls.__fields__.items()}
        if variable not in fields:
            raise LookupError(
                f"{variable} is not a channel setting: declare it in ChannelSettings "
                f"(channels/common.py) and .env.example"
            )
        return fields[variable]


@overload
def env(name: str, default: str, environ: Mapping[str, str] | None = None) -> str: ...


@overload
def env(name: str, default: None = None, environ: Mapping[str, str] | None = None) -> str | None: ...


def env(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The channel variable's value (from the process's ChannelSettings, or `environ` when given) without
    surrounding blanks; `default` when unset or blank."""
    settings = ChannelSettings.current() if environ is None else ChannelSettings.from_env(environ)
    value = getattr(settings, ChannelSettings.field_of(name))
    return default if value is None else str(value)


def missing(names: Sequence[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The required variables that are unset or blank."""
    return [name for name in names if not env(name, environ=environ)]


def conversation_id(channel: str, raw_id: str) -> str:
    """The sender id a channel hands Rasa, `<channel>:<platform id>`, so two platforms' ids never share a
    conversation (the channel names are the conventions': rest, slack, teams, whatsapp)."""
    return f"{channel}:{raw_id}"


def platform_id(channel: str, conversation: str) -> str:
    """The platform's own id inside a namespaced conversation id (what its API expects); unprefixed ids pass."""
    return conversation.removeprefix(f"{channel}:")


def valid_unicode(body: object) -> bool:
    """Whether parsed JSON holds only text that can be encoded: a lone surrogate (`\\ud800`) parses, but no
    store, model or log line can take it, so every channel refuses it with a 400 instead of failing later."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refuse(status: int, code: str, message: str) -> HTTPResponse:
    """The project's error shape: `{"error": {"code", "message"}}`."""
    return response.json({"error": {"code": code, "message": message}}, status=status)


def unconfigured(channel: str, required: Sequence[str]) -> list[str]:
    """The channel's required variables that are unset, warned about once at start-up."""
    unset = missing(required)
    if unset:
        log.warning(
            "The %s channel is not configured (unset: %s); its webhook answers 503 until they are set.",
            channel,
            ", ".join(unset),
        )
    return unset


def webhook_blueprint(name: str) -> Blueprint:
    """A channel's blueprint with Rasa's usual health route (`GET /webhooks/<channel>/`)."""
    blueprint = Blueprint(name, __name__)

    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    blueprint.add_route(health, "/", methods=["GET"])
    return blueprint


def guard(blueprint: Blueprint, channel: str, unset: Sequence[str], check: Guard | None = None) -> Blueprint:
    """Answer 503 on every route of an unconfigured channel; otherwise run `check` (if any) before each request."""

    async def middleware(request: Request) -> HTTPResponse | None:
        if unset:
            return refuse(
                503,
                "channel_not_configured",
                f"The {channel} channel is not configured on this server (set {', '.join(unset)}).",
            )
        return await check(request) if check else None

    blueprint.middleware(middleware, "request")
    return blueprint
