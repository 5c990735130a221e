"""Local stand-ins for the platforms' APIs: small threaded HTTP servers on free loopback ports that record every
request and answer like the real service (Slack Web API, Microsoft login + Bot Connector, Twilio Messages).

A test can make one misbehave as the real one does: `fail_next` answers the next matching requests with an error
status (a 500, a 429 with Retry-After), `go_down` closes its port (connections refused) until `come_up` opens the
same port again."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


Answer = Callable[[Recorded], tuple[int, Any]]


@dataclass
class Fault:
    """The next `count` requests matching `match` get `status` (with `headers`) instead of the route's answer."""

    match: Callable[[Recorded], bool]
    status: int
    count: int
    headers: dict[str, str]


class StandIn:
    """`routes`: (method, path regex, answer); unmatched requests are recorded and answered 404. `port` 0 is a
    free one."""

    def __init__(self, name: str, routes: Sequence[tuple[str, str, Answer]], port: int = 0):
        self.name = name
        self.routes = [(method, re.compile(pattern), answer) for method, pattern, answer in routes]
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorded = Recorded(
                    self.command, unquote(self.path), {k.lower(): v for k, v in self.headers.items()}, body
                )
                with stand_in._lock:
                    stand_in.requests.append(recorded)
                    fault = next((f for f in stand_in.faults if f.count > 0 and f.match(recorded)), None)
                    if fault:
                        fault.count -= 1
                status, payload, headers = 404, {"error": "no such route in the stand-in"}, {}
                if fault:
                    status, payload, headers = fault.status, {"ok": False, "error": "stand-in fault"}, fault.headers
                else:
                    for method, pattern, answer in stand_in.routes:
                        if method == self.command and pattern.fullmatch(recorded.path.split("?")[0]):
                            status, payload = answer(recorded)
                            break
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._handler = Handler
        self._serve_on(port)

    def _serve_on(self, port: int) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"standin-{self.name}", daemon=True)
        self.thread.start()

    def fail_next(
        self, match: Callable[[Recorded], bool], status: int, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `count` requests matching `match` with `status` (and `headers`)."""
        with self._lock:
            self.faults.append(Fault(match, status, count, dict(headers or {})))

    def go_down(self) -> None:
        """Close the port: every connection is refused until `come_up`."""
        self.stop()

    def come_up(self) -> None:
        """Listen again on the port `go_down` closed."""
        self._serve_on(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, match: Callable[[Recorded], bool] = lambda r: True) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if match(r)]

    def wait_for(self, match: Callable[[Recorded], bool], count: int = 1, timeout: float = 90.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.received(match)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(
            f"{self.name} stand-in: {count} matching request(s) not received within {timeout}s; "
            f"got {[(r.method, r.path) for r in self.received()]}"
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def slack_api() -> StandIn:
    counter = iter(range(1, 10**9))

    def post_message(request: Recorded) -> tuple[int, Any]:
        body = request.json()
        return 200, {
            "ok": True,
            "channel": body.get("channel"),
            "ts": f"{time.time():.6f}{next(counter)}",
            "message": {"text": body.get("text"), "type": "message"},
        }

    return StandIn("slack", [("POST", r"/api/chat\.postMessage", post_message)])


def microsoft(jwks: dict[str, Any], issuer: str = "https://api.botframework.com") -> StandIn:
    """Bot Framework login (OpenID metadata, JWKS, token endpoint) and a Bot Connector service URL (`/teams/`)."""
    holder: dict[str, StandIn] = {}

    def metadata(_: Recorded) -> tuple[int, Any]:
        base = holder["self"].url
        return 200, {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/authorize",
            "jwks_uri": f"{base}/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def token(request: Recorded) -> tuple[int, Any]:
        if request.form().get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        return 200, {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": "standin-connector-access-token",
        }

    routes = [
        ("GET", r"/openidconfiguration", metadata),
        ("GET", r"/keys", lambda _: (200, jwks)),
        ("POST", r"/token", token),
        ("POST", r"/teams/v3/conversations/.+/activities", lambda _: (201, {"id": "1234"})),
    ]
    holder["self"] = stand_in = StandIn("microsoft", routes)
    return stand_in


def twilio_api() -> StandIn:
    counter = iter(range(1, 10**9))

    def create(request: Recorded) -> tuple[int, Any]:
        form = request.form()
        return 201, {
            "sid": f"SM{next(counter):032x}",
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
        }

    return StandIn("twilio", [("POST", r"/2010-04-01/Accounts/AC[0-9a-f]{32}/Messages\.json", create)])


def bot_connector(port: int) -> StandIn:
    """A Bot Connector `serviceUrl` (`/teams/`) alone, on a given port (one a test kept closed until now)."""
    return StandIn(
        "bot-connector", [("POST", r"/teams/v3/conversations/.+/activities", lambda _: (201, {"id": "1"}))], port
    )
