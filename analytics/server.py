"""The report as a page of the stack: `GET /report` (the operator's token required) and `GET /health`, served by
the analytics process itself (`python -m analytics consume --serve`) on ANALYTICS_HOST:ANALYTICS_PORT.

Part of the consumer's process rather than of the web chat's server: it reads the store the consumer writes, it
needs the report's libraries (matplotlib, Jinja) that the shopper-facing servers do not carry, and the shoppers'
origin never serves an operator page (docs/operations.md#the-report-page).

The page keeps to a Content-Security-Policy as strict as the web chat's: nothing is fetched, no script at all, the
charts are PNG data and the page's one `<style>` element is allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from analytics.access import Access, check
from analytics.page import PageCache

log = logging.getLogger("analytics.server")

REPORT_PATH = "/report"
HEALTH_PATH = "/health"
REALM = 'Basic realm="Larkspur analytics report", charset="UTF-8"'
NOT_CONFIGURED = "The report page is switched off: REPORT_TOKEN is not set (docs/analytics.md#the-report-page).\n"
REFUSED = "The report needs the operator's token: HTTP Basic with the token as the password, or a bearer token.\n"
STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # what shoppers asked: never kept by a browser or a proxy
    "X-Frame-Options": "DENY",
}


def content_security_policy(html: str) -> str:
    """The page's CSP: nothing but its own inline stylesheet (by hash) and its charts as data: images."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in STYLE.findall(html)
    )
    styles = hashes or "'none'"
    return (
        f"default-src 'none'; img-src data:; style-src {styles}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class ReportServer:
    """A small threaded HTTP server for the report page, in a thread of the analytics process."""

    def __init__(self, host: str, port: int, page: PageCache, token: str) -> None:
        self.page, self.token = page, token
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="report-server", daemon=True)
        if not token:
            log.warning(
                "REPORT_TOKEN is not set: the report page answers 503 until it is",
                extra={"path": REPORT_PATH},
            )

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS gave, when asked for port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> ReportServer:
        """Serve in the background; returns itself."""
        self._thread.start()
        log.info("report page serving", extra={"port": self.port, "path": REPORT_PATH})
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


def _handler(server: ReportServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """One request: /health for the probes, /report for operators with the token."""

        server_version = "larkspur-analytics"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == HEALTH_PATH:
                body = {"status": "ok", "report": "on" if server.token else "off"}
                self._send(HTTPStatus.OK, json.dumps(body).encode(), "application/json")
            elif path == REPORT_PATH:
                self._report()
            else:
                self._send(HTTPStatus.NOT_FOUND, b"Not found\n", "text/plain; charset=utf-8")

        def do_HEAD(self) -> None:
            self.do_GET()

        def _refuse_method(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"Only GET\n", "text/plain; charset=utf-8", {"Allow": "GET"})

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method

        def _report(self) -> None:
            verdict = check(self.headers.get("Authorization"), server.token)
            if verdict is Access.NOT_CONFIGURED:
                log.warning("report page refused: REPORT_TOKEN is not set", extra={"status": 503})
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, NOT_CONFIGURED.encode(), "text/plain; charset=utf-8")
                return
            if verdict is Access.REFUSED:
                log.info("report page refused: no valid operator token", extra={"status": 401})
                headers = {"WWW-Authenticate": REALM}
                self._send(HTTPStatus.UNAUTHORIZED, REFUSED.encode(), "text/plain; charset=utf-8", headers)
                return
            try:
                page = server.page.get()
            except Exception:
                log.exception("the report could not be rendered")
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"The report failed; see the log\n", "text/plain")
                return
            headers = {"Content-Security-Policy": content_security_policy(page.html)}
            self._send(HTTPStatus.OK, page.html.encode("utf-8"), "text/html; charset=utf-8", headers)

        def _send(self, status: HTTPStatus, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in {**COMMON_HEADERS, **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Requests go to the JSON log (path without its query), not to stderr."""
            log.debug("report request", extra={"path": self.path.split("?", 1)[0], "detail": format % args})

    return Handler
