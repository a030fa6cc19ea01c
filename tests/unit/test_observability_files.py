"""The Grafana dashboard and the Prometheus alert rules in docs/ parse, and every series they query is
one the API or a worker exports (``promtool`` is not available here, so this is the check we have)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from api.metrics import SCRAPE_SERIES, api_metrics
from worker.metrics import worker_metrics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
_SERIES = re.compile(r"\bbgremover_[a-z_]+\b")


def exported_series() -> set[str]:
    api_metrics()
    worker_metrics()
    names = set(SCRAPE_SERIES)
    for family in REGISTRY.collect():
        if family.name.startswith("bgremover_"):
            names.add(family.name)
            names.update(f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_sum", "_count", "_created"))
    return names


def test_alert_rules_parse_and_query_exported_series() -> None:
    rules: dict[str, Any] = yaml.safe_load((ROOT / "docs/prometheus/alerts.yml").read_text())
    exported = exported_series()
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"BgremoverNoWorkers", "BgremoverQueueStalled", "BgremoverHighFailureRate"} <= {
        rule["alert"] for rule in alerts
    }
    for rule in alerts:
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        used = set(_SERIES.findall(rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)


def test_dashboard_parses_and_queries_exported_series() -> None:
    dashboard: dict[str, Any] = json.loads((ROOT / "docs/grafana/bgremover.json").read_text())
    exported = exported_series()
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert exprs
    for expr in exprs:
        used = set(_SERIES.findall(expr))
        assert used and used <= exported, (expr, used - exported)
    # every metric an operator was promised has a panel
    shown = {name for expr in exprs for name in _SERIES.findall(expr)}
    for name in (
        "bgremover_queue_depth",
        "bgremover_queue_oldest_job_age_seconds",
        "bgremover_workers_live",
        "bgremover_jobs_finished_total",
        "bgremover_job_stage_seconds_bucket",
        "bgremover_refunds_total",
        "bgremover_webhook_deliveries_total",
        "bgremover_api_refusals_total",
        "bgremover_model_available",
    ):
        assert name in shown, name


def test_prometheus_scrapes_the_api_on_its_internal_port_with_the_bearer_token() -> None:
    """The API's ``/metrics`` is not on its public port in the compose deployment: Prometheus scrapes the
    internal ``METRICS_PORT`` compose sets, sending ``METRICS_TOKEN`` as a bearer token."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "docs/prometheus/prometheus.yml").read_text())
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    api_env = compose["services"]["api"]["environment"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["bgremover-api"]
    assert api["authorization"]["type"] == "Bearer" and api["authorization"]["credentials_file"]
    internal_port = re.fullmatch(r"\$\{METRICS_PORT:-(\d+)\}", api_env["METRICS_PORT"])
    assert internal_port, api_env["METRICS_PORT"]
    assert api["static_configs"][0]["targets"] == [f"api:{internal_port[1]}"]
    # published ports are the API's own, never the metrics listener's
    assert all(internal_port[1] not in str(port) for port in compose["services"]["api"].get("ports", []))
    worker_port = re.fullmatch(r"\$\{WORKER_METRICS_PORT:-(\d+)\}", api_env["WORKER_METRICS_PORT"])
    assert worker_port and jobs["bgremover-worker"]["static_configs"][0]["targets"] == [f"worker:{worker_port[1]}"]
    assert config["rule_files"] == ["alerts.yml"]
