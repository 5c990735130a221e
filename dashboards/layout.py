"""Where each panel sits on Grafana's 24-column grid: panels are placed left to right in the order given, a new
row starting when the next one does not fit, so a dashboard module lists its panels and their widths only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grafanalib.core import GridPos

GRID_COLUMNS = 24
WIDE, HALF, QUARTER = 24, 12, 6
GRAPH_HEIGHT, STAT_HEIGHT = 8, 4


def arranged(panels: Sequence[tuple[Any, int, int]]) -> list[Any]:
    """The panels with their grid position and a panel id (1, 2, ... in order), from (panel, width, height)."""
    placed = []
    x = y = row_height = 0
    for number, (panel, width, height) in enumerate(panels, start=1):
        if x + width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        panel.gridPos = GridPos(h=height, w=width, x=x, y=y)
        panel.id = number
        placed.append(panel)
        x += width
        row_height = max(row_height, height)
    return placed
