"""The panels the dashboards are made of, built on grafanalib with the project's defaults: every panel reads the
dashboard's `datasource` variable and carries a title, a description, a unit and its thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafanalib.core import BarGauge, Stat, Target, TimeSeries

DATASOURCE_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": "${" + DATASOURCE_VARIABLE + "}"}
"""Where every panel and query reads from: the Prometheus data source the dashboard's variable names."""

# Grafana unit ids (its "Standard options > Unit"); the custom `suffix:` ones read better than counts per second.
MESSAGES_PER_SECOND = "suffix: msg/s"
REQUESTS_PER_SECOND = "reqps"
PER_MINUTE = "cpm"
SECONDS = "s"
SHARE = "percentunit"
COUNT = "short"
STATE = "none"

GREEN, ORANGE, RED = "green", "orange", "red"


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel and the legend of its series (`{{label}}` names a label's value)."""

    expr: str
    legend: str = ""


def thresholds(*steps: tuple[float, str]) -> list[dict[str, Any]]:
    """Grafana's threshold steps: green from the bottom, then each (value, colour) from that value up."""
    return [{"color": GREEN, "value": None}, *({"color": color, "value": value} for value, color in steps)]


def _targets(queries: Sequence[Query], instant: bool = False) -> list[Target]:
    """The panel's queries as grafanalib targets, lettered A, B, C... as Grafana letters them."""
    return [
        Target(
            expr=query.expr,
            legendFormat=query.legend,
            refId=chr(ord("A") + index),
            datasource=DATASOURCE,
            instant=instant,
            intervalFactor=1,
        )
        for index, query in enumerate(queries)
    ]


def timeseries(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    steps: Sequence[tuple[float, str]] = (),
    stacked: bool = False,
) -> TimeSeries:
    """A graph over time; thresholds beyond the base one are drawn as dashed lines, so a target is visible."""
    return TimeSeries(
        title=title,
        description=description,
        unit=unit,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        thresholds=thresholds(*steps),
        thresholdsStyleMode="dashed" if steps else "off",
        fillOpacity=20 if stacked else 10,
        stacking={"mode": "normal", "group": "A"} if stacked else {"mode": "none"},
        legendDisplayMode="table" if len(queries) > 1 or stacked else "list",
        legendCalcs=["mean", "max", "lastNotNull"],
        tooltipMode="multi",
        tooltipSort="desc",
        valueMin=0,
        maxDataPoints=500,
    )


def stat(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    steps: Sequence[tuple[float, str]] = (),
    mappings: Sequence[dict[str, Any]] = (),
) -> Stat:
    """One number per series (its last value), coloured by the thresholds."""
    return Stat(
        title=title,
        description=description,
        format=unit,
        dataSource=DATASOURCE,
        targets=_targets(queries),
        thresholds=thresholds(*steps),
        mappings=list(mappings),
        color={"mode": "thresholds"},
        colorMode="background" if steps else "value",
        graphMode="none",
        reduceCalc="lastNotNull",
        textMode="value_and_name" if len(queries) > 1 or mappings else "auto",
    )


def bar_gauge(
    title: str,
    description: str,
    unit: str,
    queries: Sequence[Query],
    steps: Sequence[tuple[float, str]] = (),
) -> BarGauge:
    """Horizontal bars, one per series, of its value at the end of the range (for rankings such as top intents)."""
    return BarGauge(
        title=title,
        description=description,
        format=unit,
        dataSource=DATASOURCE,
        targets=_targets(queries, instant=True),
        thresholds=thresholds(*steps),
        calc="lastNotNull",
        displayMode="gradient",
        orientation="horizontal",
        max=None,
        extraJson={
            "fieldConfig": {"defaults": {"unit": unit, "min": 0}},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        },
    )


def breaker_mappings() -> list[dict[str, Any]]:
    """The circuit breaker gauge's values as words (actions/backends/metrics.py: 0 closed, 1 half-open, 2 open)."""
    return [
        {
            "type": "value",
            "options": {
                "0": {"text": "closed", "color": GREEN, "index": 0},
                "1": {"text": "half-open", "color": ORANGE, "index": 1},
                "2": {"text": "open", "color": RED, "index": 2},
            },
        }
    ]
