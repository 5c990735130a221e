"""What one endpoint answered under fuzzing: requests sent, a status histogram, and every answer that broke a rule.

The rules: no answer of 500 or more (and no dropped connection), and every 4xx in the project's JSON error shape
`{"error": {"code": "...", "message": "..."}}` (a 429 from a rate limit too).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

KEPT_REPRODUCERS = 5  # per kind of failure: enough to see the pattern, short enough to read


@dataclass(frozen=True)
class Sent:
    """A request as it went on the wire, short enough to paste into a bug report."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    def reproducer(self, limit: int = 400) -> str:
        body = self.body if len(self.body) <= limit else self.body[:limit] + b"...(%d bytes)" % len(self.body)
        shown = {k: v for k, v in self.headers.items() if k.lower() != "authorization"} | (
            {"Authorization": "<set>"} if any(k.lower() == "authorization" for k in self.headers) else {}
        )
        return f"{self.method} {self.target} headers={shown} body={body!r}"


@dataclass(frozen=True)
class Answer:
    """What came back: the status (None when the connection failed), the content type and the body."""

    status: int | None
    content_type: str
    body: bytes
    problem: str = ""


def error_shape_problem(answer: Answer, method: str = "GET") -> str:
    """Why a 4xx answer is not the project's JSON error, or "" when it is (a HEAD answer has no body to check)."""
    if "json" not in answer.content_type:
        return f"4xx not JSON ({answer.content_type or 'no content type'})"
    if method.upper() == "HEAD":
        return ""
    try:
        payload: Any = json.loads(answer.body)
    except ValueError:
        return "4xx body is not valid JSON"
    error = payload.get("error") if isinstance(payload, dict) else None
    if (
        not isinstance(error, dict)
        or not isinstance(error.get("code"), str)
        or not isinstance(error.get("message"), str)
    ):
        return "4xx JSON without error.code and error.message"
    return ""


@dataclass
class Tally:
    """The fuzzing record of one endpoint."""

    endpoint: str
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    reproducers: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    healthy_after: bool | None = None

    def record(self, request: Sent, answer: Answer) -> None:
        """Count one exchange and keep the first few reproducers of each kind of failure."""
        self.sent += 1
        self.statuses[str(answer.status) if answer.status is not None else "no answer"] += 1
        problem = answer.problem
        if not problem and answer.status is not None and answer.status >= 500:
            problem = f"server error {answer.status}"
        if not problem and answer.status is not None and 400 <= answer.status < 500:
            problem = error_shape_problem(answer, request.method)
        if problem:
            self.failures[problem] += 1
            kept = self.reproducers.setdefault(problem, [])
            if len(kept) < KEPT_REPRODUCERS:
                kept.append(f"{request.reproducer()} -> {answer.status} {answer.body[:200]!r}")

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status == "no answer" or int(status) >= 500)

    def histogram(self) -> str:
        return " ".join(f"{status}:{n}" for status, n in sorted(self.statuses.items()))

    def explain(self) -> str:
        """Every kind of failure with its count and reproducers, for an assertion message."""
        lines = [f"{self.endpoint}: {self.sent} requests, {self.histogram()}"]
        for problem, count in self.failures.most_common():
            lines.append(f"  {count} x {problem}")
            lines.extend(f"    {r}" for r in self.reproducers.get(problem, []))
        if self.healthy_after is False:
            lines.append("  the server did not answer its health check afterwards")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "requests": self.sent,
            "seconds": round(self.seconds, 1),
            "statuses": dict(sorted(self.statuses.items())),
            "failures": dict(self.failures),
            "reproducers": self.reproducers,
            "healthy_after": self.healthy_after,
        }


def table(tallies: list[Tally]) -> str:
    """One line per endpoint: requests, seconds, >= 500, rule breaks, health after, the status histogram."""
    width = max([len("endpoint"), *(len(t.endpoint) for t in tallies)])
    header = f"{'endpoint':<{width}} {'requests':>8} {'seconds':>7} {'>=500':>5} {'broken':>6} {'health':>6}  statuses"
    rows = [header, "-" * len(header)]
    for t in tallies:
        health = {True: "ok", False: "DOWN", None: "-"}[t.healthy_after]
        rows.append(
            f"{t.endpoint:<{width}} {t.sent:>8} {t.seconds:>7.1f} {t.server_errors:>5} "
            f"{sum(t.failures.values()):>6} {health:>6}  {t.histogram()}"
        )
    return "\n".join(rows)
