"""The channels of a credentials file on a Sanic server without an agent: `python -m tests.channels.channels_only
CREDENTIALS PORT`. Starts in seconds (no model), so a test can check the webhooks of an unconfigured server."""

from __future__ import annotations

import sys
from types import SimpleNamespace

from rasa.core.channels.channel import UserMessage, register
from rasa.core.run import create_http_input_channels
from sanic import Sanic, response


def main(credentials: str, port: int) -> None:
    app = Sanic("channels_only")
    handled = []

    async def handle_message(message: UserMessage) -> None:
        handled.append(message.text)

    app.ctx.agent = SimpleNamespace(handle_message=handle_message)
    register(create_http_input_channels(None, credentials), app, route="/webhooks/")

    @app.get("/health")
    async def health(_):
        return response.json({"handled": handled})

    app.run(host="127.0.0.1", port=port, access_log=False, workers=1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
