"""Reading a process's Prometheus `/metrics` page in a test: every sample, and how far one moved between two reads."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page, by name and labels (the page must answer 200 in Prometheus' text format)."""
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain"), answer.text[:500]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the sample `name{labels}` grew from `before` to `after` (a sample not there yet counts as 0)."""
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def family_total(samples: Samples, name: str) -> float:
    """The sum of every sample called `name`, whatever its labels."""
    return sum(value for (sample, _), value in samples.items() if sample == name)
