"""Drive Hypothesis for a budget of requests against one endpoint, recording every answer in a Tally.

Hypothesis runs in batches of fresh searches (generation only: nothing is shrunk or replayed), so the count and
the time limit are both honoured and one failing answer does not stop the run: every failure is counted and kept.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fuzz.budget import FuzzBudget
from tests.fuzz.tally import Answer, Sent, Tally

T = TypeVar("T")
BATCH = 500
TIMEOUT = 60.0


def fuzz(tally: Tally, strategy: st.SearchStrategy[T], send: Callable[[T], tuple[Sent, Answer]], budget: FuzzBudget):
    """Send up to `budget.examples` generated requests (fewer if `budget.seconds` run out) and record them."""
    started = time.monotonic()
    deadline = started + budget.seconds

    def wanted() -> int:
        return 0 if time.monotonic() >= deadline else budget.examples - tally.sent

    while wanted() > 0:

        @settings(
            max_examples=min(BATCH, wanted()),
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def batch(example: T) -> None:
            if wanted() > 0:
                tally.record(*send(example))

        batch()
    tally.seconds = time.monotonic() - started


def http_send(session: requests.Session, base: str) -> Callable[[Sent], tuple[Sent, Answer]]:
    """A sender over `requests` (headers and body exactly as generated; no redirects followed)."""

    def send(request: Sent) -> tuple[Sent, Answer]:
        try:
            answer = session.request(
                request.method,
                base + request.target,
                headers=request.headers,
                data=request.body,
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            return request, Answer(None, "", b"", problem=f"no answer: {err.__class__.__name__}")
        return request, Answer(answer.status_code, answer.headers.get("Content-Type", ""), answer.content)

    return send


def raw_send(host: str, port: int) -> Callable[[Sent], tuple[Sent, Answer]]:
    """A sender over a bare socket: the request line and headers go out byte for byte, however malformed."""

    def send(request: Sent) -> tuple[Sent, Answer]:
        head = f"{request.method} {request.target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
        if request.body:
            head += f"Content-Length: {len(request.body)}\r\n"
        data = head.encode("utf-8", "surrogateescape") + b"\r\n" + request.body
        try:
            with socket.create_connection((host, port), timeout=TIMEOUT) as connection:
                connection.sendall(data)
                answer = http.client.HTTPResponse(connection, method=request.method)
                answer.begin()
                body = answer.read()
                return request, Answer(answer.status, answer.getheader("Content-Type") or "", body)
        except (OSError, http.client.HTTPException) as err:
            return request, Answer(None, "", b"", problem=f"no answer: {err.__class__.__name__}")

    return send


def still_answers(url: str, expect: Callable[[requests.Response], bool] = lambda r: r.status_code == 200) -> bool:
    """The health request after the fuzzing: True when the server still answers it as it should."""
    try:
        return expect(requests.get(url, timeout=30))
    except requests.RequestException:
        return False
