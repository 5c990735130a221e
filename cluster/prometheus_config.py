"""The Prometheus scrape configuration of `make run-cluster`: one job per process kind that serves metrics
(rasa, actions, demoshop, analytics: the jobs docker/prometheus/alerts.yml names), one target per member on the
metrics port the plan gives it, and the project's rule files. `python -m cluster run` writes it to
`var/cluster/prometheus.yml` (docs/operations.md#alerts says how to start Prometheus on it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from cluster.members import Member
from foundation import REPO

RULES_DIR = REPO / "docker" / "prometheus"
RULE_FILES = (RULES_DIR / "records.yml", RULES_DIR / "alerts.yml")
# The variable each kind of process reads its metrics port from, and that variable's default (.env.example).
METRICS_PORTS: Mapping[str, tuple[str, int]] = {
    "rasa": ("RASA_METRICS_PORT", 9106),
    "actions": ("ACTIONS_METRICS_PORT", 9105),
    "demoshop": ("DEMOSHOP_METRICS_PORT", 9107),
    "analytics": ("ANALYTICS_METRICS_PORT", 9109),
}
SCRAPE_INTERVAL = "15s"


@dataclass(frozen=True)
class ScrapeTarget:
    """One member's metrics endpoint: the job it belongs to (its role), its name in the cluster, its port."""

    job: str
    member: str
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def metrics_port(member: Member, environ: Mapping[str, str] | None = None) -> int | None:
    """The port a member serves `/metrics` on: the plan's value for its variable, else the environment's (which
    the member inherits), else the variable's default; None for a kind without metrics or with them off (0)."""
    if member.role not in METRICS_PORTS:
        return None
    variable, default = METRICS_PORTS[member.role]
    environ = os.environ if environ is None else environ
    value = member.env.get(variable) or environ.get(variable) or str(default)
    port = int(value)
    return port or None


def scrape_targets(plan: Iterable[Member], environ: Mapping[str, str] | None = None) -> list[ScrapeTarget]:
    """The metrics endpoints of the plan's members, in the plan's order."""
    targets = []
    for member in plan:
        port = metrics_port(member, environ)
        if port is not None:
            targets.append(ScrapeTarget(member.role, member.name, port))
    return targets


def scrape_config(
    plan: Iterable[Member],
    *,
    rule_files: Iterable[Path] = RULE_FILES,
    interval: str = SCRAPE_INTERVAL,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The prometheus.yml text for the plan: a job per kind of process, each member a target labelled with its
    name (`member="rasa-2"`), and the rule files by absolute path."""
    targets = scrape_targets(plan, environ)
    jobs = [job for job in METRICS_PORTS if any(t.job == job for t in targets)]
    config = {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "external_labels": {"deployment": "run-cluster"},
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [t.address], "labels": {"member": t.member}} for t in targets if t.job == job
                ],
            }
            for job in jobs
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_scrape_config(plan: Iterable[Member], path: Path) -> Path:
    """Write the plan's scrape configuration to `path` (its folder created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `python -m cluster run` at each start (cluster/prometheus_config.py; docs/operations.md#alerts)\n"
        + scrape_config(plan)
    )
    return path
