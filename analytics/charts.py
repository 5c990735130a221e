"""The report's charts as inline SVG (matplotlib), so `results/report.html` is one self-contained file."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.pyplot as plt

COLOUR = "#4c72b0"


def _svg(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # without the XML prologue and doctype, to sit inside HTML


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "") -> str:
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
    return _svg(figure)


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *, unit: str = "") -> str:
    """One line per series over the labels (days); a missing value leaves a gap."""
    figure, axes = plt.subplots(figsize=(7, 3))
    for name, values in series.items():
        axes.plot(list(labels), [float("nan") if value is None else value for value in values], marker="o", label=name)
    axes.set_title(title)
    if unit:
        axes.set_ylabel(unit)
    axes.legend()
    figure.autofmt_xdate()
    return _svg(figure)


def histogram(title: str, values: Sequence[float], *, unit: str = "") -> str:
    """How the values are spread (turn latencies)."""
    figure, axes = plt.subplots(figsize=(7, 3))
    axes.hist(list(values), bins=min(30, max(5, len(values) // 3)), color=COLOUR)
    axes.set_title(title)
    if unit:
        axes.set_xlabel(unit)
    axes.set_ylabel("turns")
    return _svg(figure)
