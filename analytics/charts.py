"""The report's charts (matplotlib), inline in the page so it is one self-contained file with no fetches.

`svg` (the default, `make report`'s file) inlines the SVG markup. `png` gives an `<img>` with the chart as PNG
data: the served `/report` page uses it, because matplotlib's SVG carries inline `style` attributes that a
Content-Security-Policy without `'unsafe-inline'` styles refuses (analytics/server.py).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.pyplot as plt

COLOUR = "#4c72b0"


FORMATS = ("svg", "png")


def _render(figure: plt.Figure, title: str, fmt: str) -> str:
    if fmt not in FORMATS:
        plt.close(figure)
        raise ValueError(f"unknown chart format {fmt!r}")
    if fmt == "png":
        raw = io.BytesIO()
        figure.savefig(raw, format="png", bbox_inches="tight", dpi=96)
        plt.close(figure)
        data = base64.b64encode(raw.getvalue()).decode("ascii")
        return f'<img class="chart" alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # without the XML prologue and doctype, to sit inside HTML


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "", fmt: str = "svg") -> str:
    """Horizontal bars, one per label (long labels such as response names stay readable)."""
    height = max(1.6, 0.35 * len(labels) + 0.8)
    figure, axes = plt.subplots(figsize=(7, height))
    positions = range(len(labels))
    axes.barh(list(positions), list(values), color=COLOUR)
    axes.set_yticks(list(positions))
    axes.set_yticklabels(list(labels))
    axes.invert_yaxis()
    axes.set_title(title)
    if unit:
        axes.set_xlabel(unit)
    return _render(figure, title, fmt)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    unit: str = "",
    fmt: str = "svg",
) -> str:
    """One line per series over the labels (days); a missing value leaves a gap."""
    figure, axes = plt.subplots(figsize=(7, 3))
    for name, values in series.items():
        axes.plot(list(labels), [float("nan") if value is None else value for value in values], marker="o", label=name)
    axes.set_title(title)
    if unit:
        axes.set_ylabel(unit)
    axes.legend()
    figure.autofmt_xdate()
    return _render(figure, title, fmt)


def histogram(title: str, values: Sequence[float], *, unit: str = "", fmt: str = "svg") -> str:
    """How the values are spread (turn latencies)."""
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.hist(list(values), bins=min(30, max(5, len(values) // 3)), color=COLOUR)
    axes.set_title(title)
    if unit:
        axes.set_xlabel(unit)
    axes.set_ylabel("turns")
    return _render(figure, title, fmt)


def column_chart(
    title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "", fmt: str = "svg"
) -> str:
    """Vertical bars in the labels' order (a rating scale, where the order is the point)."""
    figure, axes = plt.subplots(figsize=(5, 2.6))
    axes.bar(list(labels), list(values), color=COLOUR)
    axes.set_title(title)
    if unit:
        axes.set_ylabel(unit)
    return _render(figure, title, fmt)
