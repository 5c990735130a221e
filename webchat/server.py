"""The web chat's development server: the widget's files, a generated /config.js and /health, on the stdlib.

For development and tests only (`python -m webchat`, `make run`). In production nginx serves webchat/ and proxies
the widget's webhook to Rasa with docker/nginx/webchat.conf: docs/channels.md, "Serving it in production".

Only files directly inside webchat/ (and its sub-folders) with a known static extension are served: no
directory listings, no paths outside the folder, no Python sources, no dotfiles. Every answer carries a
Content-Security-Policy that lets the page talk to the Rasa server (RASA_PUBLIC_URL) and nothing else.
One JSON log line per request (the project's JSON logging, foundation/logging.py).
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, validator

from channels.sessions import SessionSettings, issue
from foundation.settings import PortOrZero, ProcessSettings
from webchat import metrics

ROOT = Path(__file__).resolve().parent
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_RASA_URL = "http://127.0.0.1:5005"

# The only files served, by extension; anything else (.py, .pyc, .txt, no extension, ...) is a 404.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
}

log = logging.getLogger("webchat")
# How long, and how much, a closing connection is read so that the client gets its answer (Handler.finish).
LINGER_SECONDS = 0.5
LINGER_BYTES = 1 << 20


class Settings(ProcessSettings):
    """What the web chat server reads from the environment (or `.env`): where it listens, where Rasa is."""

    host: str = Field(DEFAULT_HOST, env="WEBCHAT_HOST")
    port: PortOrZero = Field(DEFAULT_PORT, env="WEBCHAT_PORT")  # 0: any free port
    rasa_url: str = Field(DEFAULT_RASA_URL, env="RASA_PUBLIC_URL")

    @validator("rasa_url")
    def _an_http_base_url(cls, value: str) -> str:
        return normalise_rasa_url(value)


def normalise_rasa_url(url: str) -> str:
    """The Rasa server's public base URL without a trailing slash; only http(s) URLs with a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"RASA_PUBLIC_URL must be an http(s) base URL like {DEFAULT_RASA_URL}, not {url!r}")
    if any(c in url for c in " '\";,\\"):
        raise ValueError(f"RASA_PUBLIC_URL contains characters not allowed in a URL: {url!r}")
    return url.strip().rstrip("/")


def new_session(settings: SessionSettings) -> tuple[HTTPStatus, bytes]:
    """`GET /session`: a fresh sender id and a session token for it (channels/sessions.py), for a page that wants
    Rasa to see a token with every message; 404 when this deployment signs no tokens (REST_SESSION_SECRET unset)."""
    if settings.secret is None:
        return HTTPStatus.NOT_FOUND, error_body("no_sessions", "This server issues no session tokens.")
    sender = secrets.token_urlsafe(32)
    token = issue(sender, secret=settings.secret.get_secret_value(), max_age=settings.max_age)
    body = {"sender": sender, "session_token": token, "expires_in": settings.max_age}
    return HTTPStatus.OK, json.dumps(body).encode() + b"\n"


def error_body(code: str, message: str) -> bytes:
    """The project's JSON error shape, `{"error": {"code": ..., "message": ...}}`, as the body of a refusal."""
    return json.dumps({"error": {"code": code, "message": message}}).encode() + b"\n"


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, as a Content-Security-Policy source."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def config_js(rasa_url: str) -> bytes:
    """`window.LARKSPUR_CHAT_CONFIG = {...};` with the values JSON-encoded (and safe inside <script> too)."""
    data = json.dumps({"rasaUrl": rasa_url}, ensure_ascii=True)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.LARKSPUR_CHAT_CONFIG = {data};\n".encode("ascii")


def content_security_policy(rasa_url: str) -> str:
    """The page may load only its own files and talk only to itself and the Rasa server."""
    return "; ".join(
        [
            "default-src 'self'",
            f"connect-src 'self' {origin(rasa_url)}",
            "img-src 'self' data: https:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def resolve_static(url_path: str, root: Path = ROOT) -> Path | None:
    """The file a URL path names inside `root`, or None when it must not be served."""
    path = unquote(url_path)
    if "\x00" in path or "\\" in path:
        return None
    if path in ("", "/"):
        path = "/index.html"
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") or p.startswith(".") or p == "__pycache__" for p in parts):
        return None
    if not parts or Path(parts[-1]).suffix.lower() not in CONTENT_TYPES:
        return None
    root = root.resolve()
    candidate = root.joinpath(*parts).resolve()
    if root not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def _path_of(request_target: str) -> str:
    """The path of a request target, query and fragment dropped (never logged: they may carry tokens)."""
    return request_target.split("?", 1)[0].split("#", 1)[0]


class Handler(BaseHTTPRequestHandler):
    """One request: /health, /config.js, /session or a static file, every answer with the security headers."""

    server_version = "larkspur-webchat"
    _status: int | None  # the answer's status, for the request's log line; None until one is sent
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # Never HTTP/0.9: a request line without a version is answered with a status line and headers, like any other.
    default_request_version = "HTTP/1.0"
    settings: Settings = Settings.construct()  # the defaults; replaced per server by make_server()

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _not_allowed(self) -> None:
        self.close_connection = True  # its body, if any, is not read: the connection cannot carry another request
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            error_body("method_not_allowed", "Only GET and HEAD are served here."),
            "application/json",
            extra={"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_allowed

    def _answer(self, send_body: bool) -> None:
        path = _path_of(self.path)
        if path == "/health":
            self._send(HTTPStatus.OK, b'{"status":"ok"}\n', "application/json", send_body=send_body)
        elif path == "/config.js":
            self._send(HTTPStatus.OK, config_js(self.settings.rasa_url), CONTENT_TYPES[".js"], send_body=send_body)
        elif path == "/session":
            status, body = new_session(SessionSettings.current())
            self._send(status, body, "application/json", send_body=send_body, extra={"Cache-Control": "no-store"})
        else:
            file = resolve_static(path)
            if file is None:
                self._send(
                    HTTPStatus.NOT_FOUND,
                    error_body("not_found", "No such file."),
                    "application/json",
                    send_body=send_body,
                )
            else:
                self._send(HTTPStatus.OK, file.read_bytes(), CONTENT_TYPES[file.suffix.lower()], send_body=send_body)

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, *, send_body: bool = True, extra: dict | None = None
    ) -> None:
        self._status = int(status)
        self._bytes = len(body) if send_body else 0
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", (extra or {}).pop("Cache-Control", "no-cache"))
        self.send_header("Content-Security-Policy", content_security_policy(self.settings.rasa_url))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def finish(self) -> None:
        """Close gently: a client still sending a body we never read (a refused POST) would otherwise get a TCP
        reset instead of the answer already written. Stop sending, then read what is left, briefly and bounded."""
        super().finish()
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            left = LINGER_BYTES
            while left > 0 and (chunk := self.connection.recv(min(left, 65536))):
                left -= len(chunk)
        except OSError:
            pass

    # One JSON line per request instead of the stdlib's Apache-style line on stderr.
    def handle_one_request(self) -> None:
        self._started = time.perf_counter()
        self._status = None
        self._bytes = 0
        # typeshed types `command` str, but http.server itself sets it to None until a request line parses.
        self.command, self.path = None, ""  # type: ignore[assignment]
        super().handle_one_request()
        if self._status is not None:  # nothing to log for a keep-alive connection that just closed
            metrics.count_request(metrics.route_label(_path_of(self.path or ""), resolve_static), self._status)
            log.info(
                "request",
                extra={
                    "method": self.command,
                    "path": _path_of(self.path or ""),
                    "status": self._status,
                    "bytes": self._bytes,
                    "duration_ms": round((time.perf_counter() - self._started) * 1000, 2),
                    "client": self.client_address[0] if self.client_address else None,
                },
            )

    def parse_request(self) -> bool:
        """The stdlib's parsing, except that a blank request line is answered 400 instead of a silent close."""
        raw: bytes = self.raw_requestline  # type: ignore[attr-defined]  # set by handle_one_request
        if not str(raw, "iso-8859-1").strip():
            self.request_version = self.default_request_version  # parse_request sets it first thing
            self.send_error(HTTPStatus.BAD_REQUEST, "The request line is empty.")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's refusals (a malformed request line or header, a URI too long, an unknown method) in the
        project's JSON error shape instead of its HTML page."""
        if code == HTTPStatus.NOT_IMPLEMENTED:  # an unknown method: refused like any method this server does not serve
            self._not_allowed()
            self.close_connection = True
            return
        self._status = int(code)
        self.close_connection = True  # what follows a malformed request cannot be trusted to be a request
        try:
            status = HTTPStatus(code)
            phrase, default_message = status.phrase, status.description
        except ValueError:
            phrase, default_message = "Error", ""
        body = error_body(phrase.lower().replace(" ", "_").replace("-", "_"), message or default_message or phrase)
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("Connection", "close")
        if code >= 200 and code not in (HTTPStatus.NO_CONTENT, HTTPStatus.RESET_CONTENT, HTTPStatus.NOT_MODIFIED):
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        else:
            self.end_headers()

    def log_request(self, code="-", size="-") -> None:  # logged once, above
        pass

    def log_message(self, format: str, *args) -> None:
        log.warning("http server: " + format, *args)


class Server(ThreadingHTTPServer):
    """The threaded stdlib server, logging a request that failed as one JSON line instead of a bare traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        problem = sys.exc_info()[1]
        if isinstance(problem, ConnectionError):  # the client went away mid-answer: nothing is wrong here
            log.info("client disconnected", extra={"error": problem.__class__.__name__})
        else:
            log.exception("request failed")


def make_server(settings: Settings) -> tuple[ThreadingHTTPServer, str]:
    """A bound, not yet serving, server for these settings, and the URL it answers on."""
    handler = type("WebchatHandler", (Handler,), {"settings": settings})
    server = Server((settings.host, settings.port), handler)
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}"
