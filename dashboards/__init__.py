"""The Grafana dashboards of the assistant, written as code (grafanalib) and rendered to the JSON files Grafana
provisions from `docker/grafana/dashboards/` (`make dashboards`, `python -m dashboards`).

One module per dashboard (traffic, latency, understanding, escalations, backends), each reading only the
`assistant_*` metrics listed in docs/operations.md; `promql` writes their queries, `panels` and `layout` their
panels, `board` the dashboard around them, `catalogue` names the five and renders them. What each dashboard
answers: docs/operations.md#dashboards.
"""
