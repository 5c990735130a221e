"""The PromQL the dashboards query, written once: per-second rates summed over replicas, quantiles of a histogram,
shares of one rate in another, and the filter that reads a metric two processes export from one of them."""

from __future__ import annotations

RATE_WINDOW = "$__rate_interval"
"""Grafana's rate window: at least four scrape intervals, whatever the time range (Grafana substitutes it)."""

RANGE = "$__range"
"""Grafana's whole selected time range, for totals over it."""

ACTION_SERVER = 'job="actions"'
"""The action servers' series, by the Prometheus job the scrape configurations name (docker/prometheus/: rasa,
actions, demoshop): `assistant_handoffs_total` is exported by both the Rasa server and the action server, and a
dashboard reads one of them so nothing is counted twice."""


def selector(metric: str, where: str = "") -> str:
    """`metric{where}`, or the bare metric when there is no matcher."""
    return f"{metric}{{{where}}}" if where else metric


def rate(metric: str, by: str = "", where: str = "", window: str = RATE_WINDOW) -> str:
    """Per-second rate of a counter, summed over every replica, `by` the given labels (comma-separated)."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({selector(metric, where)}[{window}]))"


def increase(metric: str, by: str = "", where: str = "", window: str = RANGE) -> str:
    """How much a counter grew over `window` (the whole time range by default), summed over every replica."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({selector(metric, where)}[{window}]))"


def per_minute(expression: str) -> str:
    """A per-second rate as a per-minute one, for events too rare to read per second (handoffs, retries)."""
    return f"60 * {expression}"


def quantile(q: float, histogram: str, by: str = "", where: str = "") -> str:
    """The `q` quantile of a histogram (its base name, without `_bucket`) over the rate window, every replica's
    buckets summed, one series per value of the `by` labels."""
    labels = f"le, {by}" if by else "le"
    buckets = f"sum by ({labels}) (rate({selector(histogram + '_bucket', where)}[{RATE_WINDOW}]))"
    return f"histogram_quantile({q}, {buckets})"


def share(part: str, whole: str) -> str:
    """`part / whole` of two rates with the same grouping: the fraction of the whole that the part is."""
    return f"({part}) / ({whole})"


def share_each(part: str, whole: str, label: str) -> str:
    """`part / whole` where `part` has one series per value of `label` and `whole` one series: each value's
    fraction of the whole."""
    return f"({part}) / ignoring ({label}) group_left () ({whole})"
