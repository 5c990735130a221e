"""The web chat server under fuzzing, over a bare socket: request lines, methods, paths, headers and bodies
exactly as generated, however malformed. Every refusal is the project's JSON error."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from tests.fuzz.budget import FuzzBudget
from tests.fuzz.runner import fuzz, raw_send, still_answers
from tests.fuzz.tally import Sent, Tally

pytestmark = pytest.mark.slow
TOKEN_CHARS = st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=" ")


def _targets() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["/", "/index.html", "/widget.js", "/widget.css", "/config.js", "/health", "/server.py",
                         "/../README.md", "/%2e%2e/%2e%2e/etc/passwd", "/__pycache__/", "//etc/passwd", "*",
                         "/widget.js?x=1#y", "http://127.0.0.1/health", "/%", "/%zz", "/%00.js", "/a\\..\\b.js"]),
        st.builds(lambda s: "/" + s, st.text(alphabet=TOKEN_CHARS, max_size=80)),
        st.builds(lambda n: "/" + "a" * n, st.integers(1000, 70_000)),
        st.text(max_size=40),
    )  # fmt: skip


def _requests() -> st.SearchStrategy[Sent]:
    method = st.one_of(
        st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]),
        st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=10),
        st.text(max_size=8),
    )
    headers = st.dictionaries(
        st.sampled_from(["Accept", "Range", "If-Modified-Since", "Content-Type", "X-Forwarded-For", "Expect", "A"]),
        st.text(max_size=60),
        max_size=3,
    )
    return st.builds(Sent, method, _targets(), headers, st.binary(max_size=512))


def test_webchat(fuzz_webchat: tuple[str, int], budget: FuzzBudget, tally: Tally) -> None:
    host, port = fuzz_webchat
    fuzz(tally, _requests(), raw_send(host, port), budget)
    tally.healthy_after = still_answers(f"http://{host}:{port}/health")
    assert not tally.failures and tally.healthy_after, tally.explain()
