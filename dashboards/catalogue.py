"""The five dashboards by file name, and their JSON exactly as it is committed under docker/grafana/dashboards/
(sorted keys, two-space indent, a final newline), so the files and the code can be compared byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard

from dashboards import backends, escalations, latency, traffic, understanding
from foundation import REPO

OUTPUT_FOLDER = REPO / "docker" / "grafana" / "dashboards"
"""Where `make dashboards` writes the files, and where Grafana's provisioning reads them (mounted in compose)."""

BUILDERS: dict[str, Callable[[], Dashboard]] = {
    "traffic.json": traffic.build,
    "latency.json": latency.build,
    "understanding.json": understanding.build,
    "escalations.json": escalations.build,
    "backends.json": backends.build,
}


def as_json(board: Dashboard) -> str:
    """A dashboard's JSON text, deterministic for the same code."""
    return json.dumps(board.to_json_data(), cls=DashboardEncoder, sort_keys=True, indent=2) + "\n"


def rendered() -> dict[str, str]:
    """Every dashboard's JSON text, by file name."""
    return {name: as_json(build()) for name, build in BUILDERS.items()}
