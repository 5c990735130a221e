"""The channels of a credentials file on a Sanic server without an agent: `python -m tests.channels.channels_only
CREDENTIALS PORT`. Starts in seconds (no model), so a test can check the webhooks of an unconfigured server, or
what a channel does when the turn itself fails.

In place of Rasa's agent it answers every message with `echo: <text>` through the message's own output channel,
except that a message whose text starts with `fail once` raises the first time it is handled (as a turn whose
tracker store or lock store failed would). `GET /health` lists what was handled and what failed."""

from __future__ import annotations

import sys
from types import SimpleNamespace

from rasa.core.channels.channel import UserMessage, register
from rasa.core.run import create_http_input_channels
from sanic import Sanic, response


def main(credentials: str, port: int) -> None:
    app = Sanic("channels_only")
    handled: list[str] = []
    failed: list[str] = []

    async def handle_message(message: UserMessage) -> None:
        text = message.text or ""
        if text.startswith("fail once") and text not in failed:
            failed.append(text)
            raise RuntimeError("the turn failed before it was processed")
        handled.append(text)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {text}")

    app.ctx.agent = SimpleNamespace(handle_message=handle_message)
    register(create_http_input_channels(None, credentials), app, route="/webhooks/")

    @app.get("/health")
    async def health(_):
        return response.json({"handled": handled, "failed": failed})

    app.run(host="127.0.0.1", port=port, access_log=False, workers=1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
