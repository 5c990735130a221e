"""The report page the analytics process serves (`/report`): rendered from the store on request, kept a few
seconds so that reloads and several operators do not each recount the whole store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from analytics.report import render
from analytics.store import AnalyticsStore
from analytics.summary import Summary, summarise


@dataclass(frozen=True)
class RenderedPage:
    """One rendering: the HTML, the figures it shows, and when (on the cache's clock) it was made."""

    html: str
    summary: Summary
    made_at: float


class PageCache:
    """The latest rendering, made again once it is older than `ttl_seconds` (one rendering at a time: matplotlib's
    pyplot is not thread-safe, and concurrent requests for a stale page wait for the one rendering under way)."""

    def __init__(
        self, make: Callable[[], tuple[str, Summary]], ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._make, self.ttl_seconds, self._clock = make, ttl_seconds, clock
        self._lock = threading.Lock()
        self._page: RenderedPage | None = None

    def get(self) -> RenderedPage:
        """The page, rendered now if there is none or it is older than the time to live."""
        with self._lock:
            page = self._page
            if page is None or self._clock() - page.made_at >= self.ttl_seconds:
                html, summary = self._make()
                page = self._page = RenderedPage(html, summary, self._clock())
            return page


def store_page(store: AnalyticsStore, source: str) -> Callable[[], tuple[str, Summary]]:
    """What the cache calls to render: the store's figures now, with the charts as PNG data (a CSP-safe page)."""

    def make() -> tuple[str, Summary]:
        summary = summarise(store.conversations(), store.turns())
        return render(summary, source=source, chart_format="png"), summary

    return make
