"""Abuse limits on the Rasa server: per client address on every webhook and the HTTP API, per sender on every channel.

`limit_abuse` is one of the runtime's patches (rasa_runtime/patches.py, `RASA_PATCH_RATE_LIMITS`). It wraps two
Rasa 3.6.21 functions, keeping what they do:

- `rasa.core.run.configure_app`: the app it builds gets a request middleware that counts each request per
  client address (`RATE_LIMIT_PER_ADDRESS`) on `/webhooks/*` and the HTTP API, but not on the health routes
  (`/`, `/status`, `/version`) nor CORS preflights. Over the limit it answers 429 with `Retry-After` (seconds)
  and the project's JSON error shape. The address is the connection's peer; a peer in
  `RATE_LIMIT_TRUSTED_PROXIES` (the nginx in front) is replaced by the last address of `X-Forwarded-For`
  that is not a trusted proxy. A `RateLimited` that escapes a channel's handler gets the same 429.
- `rasa.core.channels.channel.register`: each input channel's `on_new_message` counts the message per sender
  (`RATE_LIMIT_PER_SENDER`) before Rasa handles it. A message over the limit is not handled: the REST channel
  gets `RateLimited` (it answers 429), every other channel sends the polite `utter_slow_down` through the
  message's output channel and returns, so that the platform gets its 2xx and does not send the message again.

With `RATE_LIMITS=off` both wrappers leave Rasa's app and handlers exactly as Rasa builds them. The settings are
read when the app is configured (foundation/rate_limits.py), so a bad value stops the server at start.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from foundation.rate_limits import Check, Limiter, RateLimited, RateLimitSettings, TrustedProxies, process_limiter

log = logging.getLogger("rasa_runtime.rate_limits")

# Rasa's routes a load balancer or an uptime check polls: never limited.
HEALTH_PATHS = frozenset({"/", "/status", "/version"})
SLOW_DOWN_RESPONSE = "utter_slow_down"
# Only when the loaded model's domain has no `utter_slow_down` (a model trained before it was added).
SLOW_DOWN_FALLBACK = "You're sending messages faster than I can answer them. Please wait a moment and try again."
REST_CHANNEL = "rest"


def client_address(peer: str, forwarded_for: str | None, trusted: TrustedProxies) -> str:
    """The address a request comes from: the peer, unless the peer is a trusted proxy that says who it forwards.

    X-Forwarded-For is read from its end (each proxy appends the address it received the request from): the
    first address that is not a trusted proxy is the client. Addresses the client wrote itself come before it
    and are ignored, so a client cannot choose the address it is counted under.
    """
    if not forwarded_for or not trusted.trust(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not trusted.trust(hop):
            return hop
    return hops[0] if hops else peer


def slow_down_text(app: Any) -> str:
    """The polite "slow down" message from the loaded model's domain, or the fallback when it has none."""
    agent = getattr(app.ctx, "agent", None)
    domain = getattr(agent, "domain", None)
    variants = (getattr(domain, "responses", None) or {}).get(SLOW_DOWN_RESPONSE) or []
    text = next((variant.get("text") for variant in variants if variant.get("text")), None)
    return text or SLOW_DOWN_FALLBACK


def too_many_requests(message: str, retry_after: int) -> Any:
    """The 429 answer: the project's JSON error shape and the seconds to wait in `Retry-After`."""
    from sanic import response

    return response.json(
        {"error": {"code": "rate_limited", "message": message}},
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


def limit_by_address(app: Any, limiter: Limiter, settings: RateLimitSettings) -> None:
    """Count every webhook and HTTP API request per client address; over the limit, answer 429."""

    async def rate_limit_by_address(request: Any) -> Any:
        if request.method == "OPTIONS" or request.path in HEALTH_PATHS:
            return None
        address = client_address(request.ip, request.headers.get("x-forwarded-for"), settings.trusted_proxies)
        wait = await limiter.acquire_async(Check(settings.per_address, "address", address))
        if wait is None:
            return None
        log.warning("client address over its limit", extra={"path": request.path, "retry_after": wait})
        return too_many_requests(slow_down_text(app), wait)

    async def answer_rate_limited(request: Any, error: Exception) -> Any:
        assert isinstance(error, RateLimited)
        return too_many_requests(error.message or slow_down_text(app), error.retry_after)

    app.register_middleware(rate_limit_by_address, "request")
    app.error_handler.add(RateLimited, answer_rate_limited)


def limit_by_sender(
    on_new_message: Callable[[Any], Awaitable[Any]], app: Any, limiter: Limiter, settings: RateLimitSettings
) -> Callable[[Any], Awaitable[Any]]:
    """`on_new_message` that first counts the message per sender, and handles it only within the limit."""

    @functools.wraps(on_new_message)
    async def handle_within_limit(message: Any) -> Any:
        channel = message.input_channel or ""
        wait = await limiter.acquire_async(Check(settings.per_sender, f"sender:{channel}", message.sender_id))
        if wait is None:
            return await on_new_message(message)
        text = slow_down_text(app)
        log.warning("sender over its limit", extra={"channel": channel, "retry_after": wait})
        if channel == REST_CHANNEL:
            raise RateLimited(wait, text)
        await message.output_channel.send_text_message(message.sender_id, text)
        return None

    return handle_within_limit


def limit_abuse() -> None:
    """Count requests per client address and messages per sender on the Rasa server (see the module's doc)."""
    import rasa.core.channels.channel as channel_module
    import rasa.core.run as run_module

    original_configure_app = run_module.configure_app
    original_register = channel_module.register
    if hasattr(original_register, "__wrapped__"):
        return

    def configure_app(*args: Any, **kwargs: Any) -> Any:
        settings = RateLimitSettings.current()  # before Rasa builds anything: a bad value stops the start
        app = original_configure_app(*args, **kwargs)
        if settings.enabled:
            limit_by_address(app, process_limiter(settings), settings)
        return app

    def register(input_channels: list, app: Any, route: str | None) -> None:
        settings = RateLimitSettings.current()
        if not settings.enabled:
            original_register(input_channels, app, route)
            return
        limiter = process_limiter(settings)
        for channel in input_channels:  # Rasa's register hands each blueprint its handler; it gets ours around it
            blueprint = channel.blueprint

            def limited_blueprint(on_new_message: Any, blueprint: Any = blueprint) -> Any:
                return blueprint(limit_by_sender(on_new_message, app, limiter, settings))

            channel.blueprint = limited_blueprint
        try:
            original_register(input_channels, app, route)
        finally:
            for channel in input_channels:
                del channel.blueprint  # the channel's own method again

    configure_app.__wrapped__ = original_configure_app  # type: ignore[attr-defined]
    register.__wrapped__ = original_register  # type: ignore[attr-defined]
    run_module.configure_app = configure_app
    channel_module.register = register
