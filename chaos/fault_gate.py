"""`python -m chaos.fault_gate --port P --upstream URL`: an HTTP pass-through whose faults can be switched on.

The cluster puts one between the action servers and the demo shop and one between the Rasa replicas and the
action servers when CLUSTER_FAULT_GATES=on, so `make chaos` can make a system slow or make it answer garbage
without touching its code. `PUT /__fault__` with `{"delay_ms": 2000}` delays every request, `{"garbage": true}`
answers every request with 200 and a body that is not JSON, `{}` passes everything through again;
`GET /__fault__` shows the current faults. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web

from foundation.logging import configure_json_logging

log = logging.getLogger("chaos.fault_gate")
CONTROL = "/__fault__"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-encoding",
}
GARBAGE = b"<html><body>502 upstream hiccup \x00\xff not json"


def build_app(upstream: str) -> web.Application:
    """The gate's app: the control endpoint and a catch-all that forwards to `upstream`."""
    faults: dict[str, Any] = {"delay_ms": 0, "garbage": False}
    app = web.Application(client_max_size=8 * 1024 * 1024)

    async def client(app: web.Application):
        app["session"] = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=120))
        yield
        await app["session"].close()

    app.cleanup_ctx.append(client)

    async def control(request: web.Request) -> web.Response:
        if request.method == "PUT":
            wanted = await request.json()
            faults["delay_ms"] = max(0, int(wanted.get("delay_ms", 0)))
            faults["garbage"] = bool(wanted.get("garbage", False))
            log.warning("faults now %s", faults, extra={"faults": dict(faults)})
        return web.json_response(faults)

    async def forward(request: web.Request) -> web.StreamResponse:
        if faults["delay_ms"]:
            await asyncio.sleep(faults["delay_ms"] / 1000)
        if faults["garbage"]:
            return web.Response(status=200, body=GARBAGE, content_type="application/json")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        try:
            async with app["session"].request(
                request.method, upstream + request.rel_url.path_qs, headers=headers, data=body or None
            ) as answer:
                payload = await answer.read()
                out = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                if "Content-Encoding" in answer.headers:
                    out["Content-Encoding"] = answer.headers["Content-Encoding"]
                return web.Response(status=answer.status, body=payload, headers=out)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return web.json_response(
                {"error": {"code": "upstream_unreachable", "message": f"{type(error).__name__}"}}, status=502
            )

    app.router.add_route("GET", CONTROL, control)
    app.router.add_route("PUT", CONTROL, control)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.fault_gate", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:18105")
    args = parser.parse_args(argv)
    configure_json_logging("INFO")
    web.run_app(build_app(args.upstream.rstrip("/")), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
