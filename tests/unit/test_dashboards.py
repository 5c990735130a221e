"""The Grafana dashboards (dashboards/, `make dashboards`): the committed JSON is what the code makes now, every
query is PromQL that reads only metrics the processes export, and every panel says what it shows and in what unit.

The metric names a query may read are collected in one place, `known_metrics()`: the families the project's
metric modules register in prometheus_client's default registry (imported here), those docs/operations.md lists,
and PLANNED_METRICS, the decided names of issue 17 whose code may not have landed yet."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dashboards.catalogue import OUTPUT_FOLDER, rendered
from foundation import REPO

# The modules that define the processes' metrics; one not written yet is skipped (its names are planned below).
METRIC_MODULES = [
    "actions.observability",
    "actions.backends.metrics",
    "channels.delivery",
    "rasa_runtime.metrics",
    "demoshop.metrics",
    "webchat.metrics",
]
# The decided names (issue 17, part 2a) that the code may not define yet: the sample names a query reads.
PLANNED_METRICS = {
    "assistant_messages_received_total",
    "assistant_messages_sent_total",
    *(f"assistant_turn_seconds{suffix}" for suffix in ("_bucket", "_count", "_sum")),
    "assistant_intents_total",
    "assistant_fallbacks_total",
    "assistant_clarifications_total",
    "assistant_handoffs_total",
    *(f"assistant_lock_wait_seconds{suffix}" for suffix in ("_bucket", "_count", "_sum")),
    "assistant_turn_errors_total",
    "assistant_shop_requests_total",
    *(f"assistant_shop_request_seconds{suffix}" for suffix in ("_bucket", "_count", "_sum")),
    "assistant_shop_errors_total",
    "assistant_webchat_requests_total",
    "assistant_webchat_sessions_issued_total",
}
# The stable uids: links, bookmarks and alert annotations point at them, so a change here is deliberate.
UIDS = {
    "traffic.json": "larkspur-traffic",
    "latency.json": "larkspur-latency",
    "understanding.json": "larkspur-understanding",
    "escalations.json": "larkspur-escalations",
    "backends.json": "larkspur-backends",
}
SAMPLE_SUFFIXES = {
    "counter": ["_total"],
    "histogram": ["_bucket", "_count", "_sum"],
    "gauge": [""],
    "summary": ["_count", "_sum", ""],
}
# What PromQL spells with letters besides metric names: functions and aggregations (followed by "("), keywords.
PROMQL_FUNCTIONS = {
    "sum", "max", "min", "avg", "count", "topk", "bottomk", "rate", "increase", "irate", "histogram_quantile",
    "clamp_min", "clamp_max", "abs", "vector", "label_replace", "sort_desc", "sort",
}  # fmt: skip
PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h"}


REGISTERED_NAMES = """
import importlib, json, sys
from prometheus_client import REGISTRY
importlib.import_module(sys.argv[1])
print(json.dumps([[family.name, family.type] for family in REGISTRY.collect()]))
"""


@functools.cache
def registered_metrics(module: str) -> frozenset[str]:
    """The sample names of the families `module` registers in prometheus_client's default registry. Each module
    is imported in a process of its own, as each server imports it: the Rasa server and the action server both
    define `assistant_fallbacks_total`, which one registry refuses twice."""
    done = subprocess.run(
        [sys.executable, "-c", REGISTERED_NAMES, module], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    names = set()
    for name, kind in json.loads(done.stdout.splitlines()[-1]):
        names.update(name + suffix for suffix in SAMPLE_SUFFIXES.get(kind, [""]))
    return frozenset(names)


@functools.cache
def known_metrics() -> frozenset[str]:
    """Every sample name a dashboard query may read (see the module's docstring)."""
    names = set(PLANNED_METRICS) | documented_metrics()
    for module in METRIC_MODULES:
        if importlib.util.find_spec(module) is not None:
            names |= registered_metrics(module)
    return frozenset(name for name in names if name.startswith("assistant_"))


def documented_metrics() -> set[str]:
    """The `assistant_*` names docs/operations.md's "Metrics" section lists (histograms as their base name)."""
    text = (REPO / "docs" / "operations.md").read_text()
    section = re.search(r"^#+ [^\n]*Metrics[^\n]*\n(.*?)(?=^#+ )", text, re.S | re.M)
    names = set(re.findall(r"\bassistant_[a-z0-9_]+", section.group(1) if section else ""))
    return names | {
        f"{name}{suffix}" for name in names if name.endswith("_seconds") for suffix in ("_bucket", "_count", "_sum")
    }


def dashboards() -> dict[str, dict]:
    """The committed dashboards, parsed, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(OUTPUT_FOLDER.glob("*.json"))}


def panels() -> Iterator[tuple[str, dict]]:
    """Every panel of every committed dashboard, with its dashboard's file name."""
    for name, board in dashboards().items():
        for panel in board["panels"]:
            yield name, panel


def expressions() -> list[str]:
    """Every PromQL expression of every panel."""
    return [target["expr"] for _, panel in panels() for target in panel["targets"]]


def bracket_problem(expr: str) -> str | None:
    """What is wrong with the brackets of an expression (outside its string literals), None when they balance."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return f"unexpected {char!r}"
    return f"unclosed {stack[-1]!r}" if stack else None


def unknown_names(expr: str, known: frozenset[str]) -> set[str]:
    """The identifiers of an expression that are neither a known metric, nor a PromQL function or keyword: label
    matchers `{...}`, ranges `[...]`, groupings `by (...)` and string literals are left out first."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    unknown = set()
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call:
            if name not in PROMQL_FUNCTIONS:
                unknown.add(name + "(")
        elif name not in PROMQL_KEYWORDS and name not in known:
            unknown.add(name)
    return unknown


def test_the_committed_json_is_what_the_code_makes():
    committed = {path.name: path.read_text() for path in OUTPUT_FOLDER.glob("*.json")}
    made = rendered()
    assert set(committed) == set(made), "run `make dashboards`"
    for name, text in made.items():
        assert committed[name] == text, f"{name} differs from the code: run `make dashboards` and commit the result"


def test_make_dashboards_writes_the_files_and_removes_stale_ones(tmp_path):
    (tmp_path / "old.json").write_text("{}")
    done = subprocess.run(
        [sys.executable, "-m", "dashboards", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(UIDS)
    for name in UIDS:
        assert (tmp_path / name).read_text() == (OUTPUT_FOLDER / name).read_text()


def test_the_uids_are_stable_and_unique():
    boards = dashboards()
    assert {name: board["uid"] for name, board in boards.items()} == UIDS
    titles = [board["title"] for board in boards.values()]
    assert len(set(titles)) == len(titles)


def test_every_dashboard_has_a_prometheus_datasource_variable_that_every_panel_reads():
    for name, board in dashboards().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        assert variables["datasource"]["query"] == "prometheus", name
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (name, panel["title"])
            assert all(t["datasource"] == panel["datasource"] for t in panel["targets"]), (name, panel["title"])


def test_every_panel_has_a_title_a_unit_a_description_thresholds_and_a_query():
    for name, panel in panels():
        where = f"{name}: {panel.get('title')!r}"
        assert panel["title"].strip(), where
        assert panel["description"] and len(panel["description"]) > 20, where
        assert panel["fieldConfig"]["defaults"]["unit"], where
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps and steps[0]["value"] is None, where
        values = [step["value"] for step in steps[1:]]
        assert values == sorted(values), where
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), where


def test_panels_do_not_overlap_and_fit_the_grid():
    for name, board in dashboards().items():
        cells = set()
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            covered = {
                (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
            }
            assert not covered & cells, (name, panel["title"])
            cells |= covered
        ids = [panel["id"] for panel in board["panels"]]
        assert len(set(ids)) == len(ids), name


def test_the_turn_p95_is_drawn_against_the_300_ms_target():
    latency = dashboards()["latency.json"]
    turn = next(p for p in latency["panels"] if p["title"] == "Turn latency p50, p95, p99")
    assert [t["legendFormat"] for t in turn["targets"]] == ["p50", "p95", "p99"]
    assert "histogram_quantile(0.95" in turn["targets"][1]["expr"]
    assert turn["fieldConfig"]["defaults"]["unit"] == "s"
    assert {"color": "red", "value": 0.3} in turn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert turn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"


def test_every_expression_has_balanced_brackets():
    problems = {expr: bracket_problem(expr) for expr in expressions() if bracket_problem(expr)}
    assert not problems


def test_the_bracket_check_finds_unbalanced_ones():
    assert bracket_problem("sum(rate(x[5m])") == "unclosed '('"
    assert bracket_problem('sum(rate(x{a=")"}[5m]))') is None
    assert bracket_problem("sum(rate(x[5m)))") == "unexpected ')'"


def test_every_expression_reads_only_metrics_the_processes_export():
    known = known_metrics()
    assert "assistant_backend_request_seconds_bucket" in registered_metrics("actions.backends.metrics")
    unknown = {expr: unknown_names(expr, known) for expr in expressions() if unknown_names(expr, known)}
    assert not unknown
    used = {name for expr in expressions() for name in re.findall(r"\bassistant_[a-z0-9_]+", expr)}
    assert used, "no query reads an assistant_ metric"


def test_the_name_check_refuses_a_metric_no_process_exports():
    known = known_metrics()
    expr = 'sum by (channel) (rate(assistant_messages_recieved_total{channel="rest"}[$__rate_interval]))'
    assert unknown_names(expr, known) == {"assistant_messages_recieved_total"}
    assert unknown_names("sum(rate(http_requests_total[5m]))", known) == {"http_requests_total"}
    assert unknown_names("summ(rate(assistant_turn_errors_total[5m]))", known) == {"summ("}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) is not installed")
def test_promtool_parses_every_expression(tmp_path):
    rules = []
    for number, expr in enumerate(expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
    path.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [{"record": "r", "expr": "sum(rate(x[5m])"}]}]}))
    refused = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0  # the check bites


def test_grafana_provisioning_reads_the_committed_dashboards_and_the_prometheus_data_source():
    grafana = REPO / "docker" / "grafana"
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" / "larkspur.yml").read_text())["providers"][0]
    datasource = yaml.safe_load((grafana / "provisioning" / "datasources" / "prometheus.yml").read_text())
    compose = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())["services"]["grafana"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in compose["volumes"]}
    assert (REPO / "docker" / Path(mounts[provider["options"]["path"]])).resolve() == OUTPUT_FOLDER.resolve()
    assert all(volume.endswith(":ro") for volume in compose["volumes"] if volume.startswith("./"))
    assert provider["allowUiUpdates"] is False
    (source,) = datasource["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "${PROMETHEUS_URL}"
    assert "PROMETHEUS_URL" in compose["environment"]
    assert all(board["templating"]["list"][0]["current"]["text"] == source["name"] for board in dashboards().values())


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus package) is not installed")
@pytest.mark.parametrize(
    ("per_minute", "mean"),
    [({"4": 1, "5": 3}, 4.75), ({"1": 2}, 1), ({"2": 1, "3": 1, "5": 2}, 3.75)],
)
def test_the_mean_rating_panel_weighs_each_score_even_when_some_scores_were_never_given(tmp_path, per_minute, mean):
    from dashboards.understanding import mean_rating

    expression = mean_rating().replace("$__range", "10m")
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "csat", "rules": [{"record": "csat:mean", "expr": expression}]}]})
    )
    series = [
        {"series": f'assistant_csat_ratings_total{{rating="{score}"}}', "values": f"0+{count}x20"}
        for score, count in per_minute.items()
    ]
    check = {"expr": "csat:mean", "eval_time": "15m", "exp_samples": [{"labels": "csat:mean", "value": mean}]}
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [check]}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    done = subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
