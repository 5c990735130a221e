"""What the channels share: settings from the environment, one error shape, the unconfigured-channel guard."""

from __future__ import annotations

import logging
import os
from typing import Awaitable, Callable, List, Mapping, Optional, Sequence

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger("channels")

Guard = Callable[[Request], Awaitable[Optional[HTTPResponse]]]


def env(name: str, default: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The variable's value without surrounding blanks; `default` when unset or blank."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or default


def missing(names: Sequence[str], environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """The required variables that are unset or blank."""
    return [name for name in names if not env(name, environ=environ)]


def refuse(status: int, code: str, message: str) -> HTTPResponse:
    """The project's error shape: `{"error": {"code", "message"}}`."""
    return response.json({"error": {"code": code, "message": message}}, status=status)


def unconfigured(channel: str, required: Sequence[str]) -> List[str]:
    """The channel's required variables that are unset, warned about once at start-up."""
    unset = missing(required)
    if unset:
        log.warning("The %s channel is not configured (unset: %s); its webhook answers 503 until they are set.",
                    channel, ", ".join(unset))
    return unset


def webhook_blueprint(name: str) -> Blueprint:
    """A channel's blueprint with Rasa's usual health route (`GET /webhooks/<channel>/`)."""
    blueprint = Blueprint(name, __name__)

    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    blueprint.add_route(health, "/", methods=["GET"])
    return blueprint


def guard(blueprint: Blueprint, channel: str, unset: Sequence[str], check: Optional[Guard] = None) -> Blueprint:
    """Answer 503 on every route of an unconfigured channel; otherwise run `check` (if any) before each request."""

    async def middleware(request: Request) -> Optional[HTTPResponse]:
        if unset:
            return refuse(503, "channel_not_configured",
                          f"The {channel} channel is not configured on this server (set {', '.join(unset)}).")
        return await check(request) if check else None

    blueprint.middleware(middleware, "request")
    return blueprint
