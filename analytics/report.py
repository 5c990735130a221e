"""`make report`: count what the SQL broker holds (once), then write `results/report.html`, one self-contained file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2

from analytics import charts
from analytics.sql_consumer import SqlBrokerConsumer
from analytics.store import AnalyticsStore
from analytics.summary import Breakdown, Summary, as_percent, as_rating, as_seconds, summarise

TEMPLATES = Path(__file__).parent / "templates"
NO_DATA = "No conversations yet: run `make run` and chat with the assistant, then `make report` again."


@dataclass
class _Rows:
    label: str
    items: list[Breakdown]


def _charts(summary: Summary, fmt: str) -> dict[str, str]:
    drawn = {}
    if summary.handoff_reasons:
        reasons, counts = zip(*summary.handoff_reasons, strict=True)
        drawn["escalations"] = charts.bar_chart("Handoffs by reason", reasons, counts, unit="conversations", fmt=fmt)
    if summary.drop_off_steps:
        steps, counts = zip(*summary.drop_off_steps[:15], strict=True)
        drawn["drop_off"] = charts.bar_chart("Last step of unresolved conversations", steps, counts, fmt=fmt)
    if summary.latencies:
        drawn["latency"] = charts.histogram("Turn latency", summary.latencies, unit="seconds", fmt=fmt)
    if summary.csat_ratings:
        scores, counts = zip(*summary.csat_distribution, strict=True)
        drawn["csat"] = charts.column_chart(
            "CSAT ratings", [str(score) for score in scores], counts, unit="conversations", fmt=fmt
        )
    if summary.by_day:
        days = [row.key for row in summary.by_day]
        drawn["by_day"] = charts.line_chart(
            "Rates by day",
            days,
            {
                "containment": [row.containment for row in summary.by_day],
                "fallback rate": [row.fallback_rate for row in summary.by_day],
                "clarification rate": [row.clarification_rate for row in summary.by_day],
            },
            fmt=fmt,
        )
    if summary.by_channel:
        drawn["by_channel"] = charts.bar_chart(
            "Conversations by channel",
            [row.key for row in summary.by_channel],
            [row.conversations for row in summary.by_channel],
            fmt=fmt,
        )
    if summary.by_intent:
        top = summary.by_intent[:20]
        drawn["by_intent"] = charts.bar_chart(
            "Turns by intent", [row.key for row in top], [row.turns for row in top], fmt=fmt
        )
    return drawn


def render(summary: Summary, *, source: str, chart_format: str = "svg") -> str:
    """The report's HTML for these figures (the no-data message when there are no conversations).

    `chart_format` is `svg` for the file `make report` writes, `png` for the served page (analytics/charts.py).
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    drawn = _charts(summary, chart_format) if summary.conversations else {}
    breakdowns = [
        ("by-day", "By day", _Rows("day", summary.by_day), drawn.get("by_day")),
        ("by-channel", "By channel", _Rows("channel", summary.by_channel), drawn.get("by_channel")),
        ("by-intent", "By intent", _Rows("intent", summary.by_intent), drawn.get("by_intent")),
    ]
    return environment.get_template("report.html.j2").render(
        summary=summary,
        charts=drawn,
        breakdowns=breakdowns,
        pct=as_percent,
        secs=as_seconds,
        rating=as_rating,
        source=source,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(store: AnalyticsStore, out: Path, *, source: str = "the analytics store") -> Summary:
    """Render the store's figures to `out`; returns them."""
    summary = summarise(store.conversations(), store.turns())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(summary, source=source), encoding="utf-8")
    return summary


def make_report(store: AnalyticsStore, events_db: str, out: Path) -> Summary:
    """What `make report` does: count the SQL broker's new events once, then write the report."""
    SqlBrokerConsumer(store, events_db).consume_once()
    return write_report(store, out, source=f"the SQL event broker {events_db}")
