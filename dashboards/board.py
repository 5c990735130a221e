"""A dashboard with the project's settings around its panels: a stable uid, the `datasource` variable every panel
reads, the `larkspur` tag, a shared crosshair, and read-only (the files are provisioned; change the code instead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafanalib.core import GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR, Dashboard, Template, Templating, Time

from dashboards.layout import arranged
from dashboards.panels import DATASOURCE_VARIABLE

SCHEMA_VERSION = 39
"""The Grafana dashboard schema the panels are written in (timeseries and stat panels with `fieldConfig`, data
sources as references), so Grafana applies no migration to them."""

TAG = "larkspur"
PROVISIONED_DATASOURCE = "Prometheus"
"""The data source's name in docker/grafana/provisioning/datasources/: the variable's default."""


def datasource_variable() -> Template:
    """The `datasource` variable: any Prometheus data source of the Grafana, the provisioned one by default."""
    return Template(
        name=DATASOURCE_VARIABLE,
        label="Prometheus",
        type="datasource",
        query="prometheus",
        default=PROVISIONED_DATASOURCE,
        refresh=1,
    )


def dashboard(uid: str, title: str, description: str, panels: Sequence[tuple[Any, int, int]]) -> Dashboard:
    """The dashboard `uid` (stable: links and bookmarks use it) with `panels` as (panel, width, height) in order."""
    return Dashboard(
        uid=uid,
        title=title,
        description=description,
        tags=[TAG],
        panels=arranged(panels),
        templating=Templating(list=[datasource_variable()]),
        time=Time("now-6h", "now"),
        refresh="1m",
        timezone="browser",
        editable=False,
        graphTooltip=GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        schemaVersion=SCHEMA_VERSION,
    )
