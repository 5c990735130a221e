"""Hypothesis strategies for hostile HTTP requests: structured-but-wrong JSON (missing, extra and wrong-typed
fields, huge strings, odd unicode, deep nesting), raw bytes, wrong content types and wrong methods."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

JSON = "application/json"
CONTENT_TYPES = (
    JSON,
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "application/xml",
    "application/octet-stream",
    "",
    "json",
    "*/*;;;=",
)
METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")

# Text that trips parsers and databases: NUL, lone surrogates, right-to-left marks, emoji, SQL and template bits.
NASTY = (
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "\u202e\u0644\u0627",
    "\U0001f600" * 3,
    "\ufeff",
    "' OR 1=1 --",
    "{{7*7}}",
    "${jndi:ldap://127.0.0.1/x}",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "%00%2e%2e",
    "\r\nX-Injected: 1",
    "9" * 400,
    "-1",
    "1e309",
    "null",
)


def huge_text() -> st.SearchStrategy[str]:
    """A string from 10 k to 1 M characters, built by repetition (cheap for Hypothesis to generate)."""
    return st.builds(lambda c, n: c * n, st.sampled_from(["a", "\U0001f600", "\x00", "é", "<"]),
                     st.integers(10_000, 300_000))  # fmt: skip


def texts() -> st.SearchStrategy[str]:
    """Short text mostly, a nasty string often, a huge one now and then (every huge field costs a request time)."""
    short = st.text(max_size=60)
    return st.one_of(short, short, short, st.sampled_from(NASTY), st.sampled_from(NASTY), huge_text())


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**200), max_value=2**200),
        st.floats(allow_nan=False, allow_infinity=False),
        texts(),
    )


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, nested a few levels."""
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
        max_leaves=20,
    )


def deeply_nested() -> st.SearchStrategy[bytes]:
    """`[[[...]]]` or `{"a":{"a":...}}` far deeper than any sane document."""
    return st.builds(
        lambda n, kind: (("[" * n + "]" * n) if kind else ('{"a":' * n + "1" + "}" * n)).encode(),
        st.integers(100, 100_000),
        st.booleans(),
    )


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> Any:
    """A valid document with a few things broken: a field dropped, an extra one, a value of the wrong type, a
    nested object replaced, or the whole thing wrapped in a list."""
    document: dict[str, Any] = dict(draw(valid))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("drop", "extra", "retype", "retype", "nested", "wrap")))
        keys = sorted(document)
        if kind == "drop" and keys:
            document.pop(draw(st.sampled_from(keys)))
        elif kind == "extra":
            document[draw(st.text(max_size=20))] = draw(json_values())
        elif kind in ("retype", "nested") and keys:
            key = draw(st.sampled_from(keys))
            value = document[key]
            if kind == "nested" and isinstance(value, dict) and value:
                inner = dict(value)
                inner[draw(st.sampled_from(sorted(inner)))] = draw(json_values())
                document[key] = inner
            else:
                document[key] = draw(json_values())
        elif kind == "wrap":
            return [document]
    return document


def encode(value: Any) -> bytes:
    """JSON as a client would send it; lone surrogates escaped (json does), NaN never produced."""
    return json.dumps(value).encode()


@st.composite
def json_bodies(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> tuple[bytes, str]:
    """A body and its content type: mostly JSON near the valid shape, sometimes anything at all."""
    kind = draw(st.sampled_from(("valid", "mutated", "mutated", "mutated", "any", "raw", "deep", "cut", "empty")))
    if kind == "valid":
        body = encode(draw(valid))
    elif kind == "mutated":
        body = encode(draw(mutated(valid)))
    elif kind == "any":
        body = encode(draw(json_values()))
    elif kind == "raw":
        body = draw(st.binary(max_size=2000))
    elif kind == "deep":
        body = draw(deeply_nested())
    elif kind == "cut":
        whole = encode(draw(valid))
        body = whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
    else:
        body = b""
    content_type = JSON if draw(st.integers(0, 4)) else draw(st.sampled_from(CONTENT_TYPES))
    return body, content_type


def methods(usual: str = "POST") -> st.SearchStrategy[str]:
    """Mostly the endpoint's own method, sometimes another one."""
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), st.sampled_from(METHODS))


def hostile_ids() -> st.SearchStrategy[str]:
    """Conversation ids a client could send: the channel namespaces, spoofed ones, nasty and huge strings."""
    return st.one_of(
        st.builds(lambda s: f"rest:{s}", st.text(min_size=1, max_size=40)),
        st.sampled_from(("slack:T1:U1", "teams:abc", "whatsapp:+14155550100", "rest:", ":", "default", "null")),
        texts(),
    )


def fixed(shape: Mapping[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(dict(shape))
