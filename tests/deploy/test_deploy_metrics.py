"""Grafana dashboards and Prometheus alerts query only metrics the services export, with labels
those metrics have (names read from prometheus_client's registry after importing services/kit/
metrics.py and every service: Counter → _total, Histogram → _bucket/_count/_sum)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.deploy_lib import COMPOSE_DIR, exported_metrics, grafana_queries, json_file, promql_references

DASHBOARDS = sorted((COMPOSE_DIR / "grafana" / "dashboards").glob("*.json"))
ALERTS = COMPOSE_DIR / "prometheus" / "alerts.yml"
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series


def check(where: str, expr: str) -> list[str]:
    exported = exported_metrics()
    label_values = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*(\w+)\s*\)\s*", expr)
    if label_values:
        metric, label = label_values.groups()
        if metric not in exported:
            return [f"{where}: {metric} is not exported"]
        return [] if label in exported[metric] | SCRAPE_LABELS else [f"{where}: {metric} has no label {label}"]
    metrics, grouping = promql_references(expr)
    problems = [f"{where}: {m} is not a metric the services export" for m in metrics if m not in exported]
    known = set(SCRAPE_LABELS)
    for metric, labels in metrics.items():
        available = exported.get(metric, frozenset()) | SCRAPE_LABELS
        known |= available
        problems += [f"{where}: {metric} has no label {label}" for label in labels - available]
    problems += [f"{where}: no queried metric has label {label}" for label in grouping - known]
    if not metrics:
        problems.append(f"{where}: no metric in {expr!r}")
    return problems


def test_the_parser_finds_metrics_labels_and_mistakes() -> None:
    metrics, grouping = promql_references(
        'histogram_quantile(0.95, sum by (le, service) (rate(motcua_http_request_duration_seconds_bucket'
        '{service=~"$service", status=~"5.."}[5m]))) / on (service) group_left max by (service) (up) > 2'
    )
    assert metrics == {"motcua_http_request_duration_seconds_bucket": {"service", "status"}, "up": set()}
    assert grouping == {"le", "service"}
    assert check("t", "sum(rate(motcua_dossiers_received[5m]))")  # the family name, not the sample name
    assert check("t", "sum by (office) (motcua_queue_length)")  # a label the metric does not have
    assert not check("t", "sum by (channel) (rate(motcua_dossiers_received_total[$__rate_interval]))")


def test_the_shared_metrics_are_exported() -> None:
    exported = exported_metrics()
    for name in ("motcua_http_request_duration_seconds_bucket", "motcua_dossiers_received_total",
                 "motcua_consumer_pending_messages", "motcua_dead_letters", "motcua_outbox_backlog",
                 "motcua_dossiers_late", "motcua_queue_length", "motcua_dossiers_finished_total",
                 "motcua_queue_wait_seconds_bucket", "motcua_queue_wait_seconds_count"):
        assert name in exported, name
    assert exported["motcua_dossiers_finished_total"] == {"unit_code", "timeliness"}
    assert exported["motcua_queue_wait_seconds_bucket"] == {"office_id", "le"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_name_exported_metrics(path: Path) -> None:
    queries = list(grafana_queries(json_file(path)))
    assert queries
    problems = [p for where, expr in queries for p in check(where, expr)]
    assert not problems, "\n".join(problems)


def test_overview_dashboard_covers_what_operators_watch() -> None:
    dashboard = json_file(COMPOSE_DIR / "grafana" / "dashboards" / "motcua-overview.json")
    text = " ".join(expr for _, expr in grafana_queries(dashboard))
    for metric in ("motcua_dossiers_received_total", "motcua_dossiers_late", "motcua_queue_length",
                   "motcua_consumer_pending_messages", "motcua_dead_letters", "motcua_outbox_backlog",
                   "motcua_http_request_duration_seconds_bucket", "motcua_dossiers_finished_total",
                   "motcua_queue_wait_seconds_bucket"):
        assert metric in text, metric


def test_overview_dashboard_shows_the_on_time_rate_and_queue_waits() -> None:
    """On-time rate = finished on_time + early ÷ all finished, per unit; waits as p50 and p90."""
    dashboard = json_file(COMPOSE_DIR / "grafana" / "dashboards" / "motcua-overview.json")
    exprs = [" ".join(expr.split()) for _, expr in grafana_queries(dashboard)]
    on_time = [e for e in exprs if 'timeliness=~"early|on_time"' in e]
    assert on_time, "no on-time rate panel"
    assert any("by (unit_code)" in e for e in on_time), "no on-time rate per unit"
    for expr in on_time:  # a ratio of the same counter: selected timeliness over every finished dossier
        numerator, _, denominator = expr.partition(" / ")
        assert "motcua_dossiers_finished_total" in numerator and "motcua_dossiers_finished_total" in denominator
        assert "timeliness" not in denominator, expr
    waits = [e for e in exprs if "motcua_queue_wait_seconds_bucket" in e]
    for quantile in ("0.50", "0.90"):
        assert any(e.startswith(f"histogram_quantile({quantile},") for e in waits), quantile
    assert all("le" in promql_references(e)[1] for e in waits)


def test_alert_rules_name_exported_metrics() -> None:
    rules = [r for group in yaml.safe_load(ALERTS.read_text())["groups"] for r in group["rules"]]
    assert rules
    problems = [p for rule in rules for p in check(f"alert {rule['alert']}", rule["expr"])]
    assert not problems, "\n".join(problems)
