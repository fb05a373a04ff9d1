"""The guide's three Grafana dashboards, built with grafana-foundation-sdk (Grafana's typed
builders) instead of hand-written JSON:

- tradesense-overview: traffic, errors, latency, saturation;
- tradesense-performance: latency per route, DB and cache timings, HPA versus load, node and
  pod CPU and memory;
- tradesense-business-metrics: signups, active users, trades imported, payments, webhooks
  (the metric contract the backend must expose is docs/metrics.md).

Queries reuse the alert expressions (components/app/alert_rules.py) where both show the same
thing. Panels pick the Prometheus datasource through a `datasource` variable, so the dashboards
do not depend on the provisioned datasource's uid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional, Sequence

from grafana_foundation_sdk.builders import dashboard as grafana
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from components.app import alert_rules
from components.app.workloads import BACKEND

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
WIDTH = 8  # three panels per row
HEIGHT = 8


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    title: str
    queries: tuple[Query, ...]
    unit: str
    kind: str = "timeseries"
    description: Optional[str] = None


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def panel(title: str, unit: str, *queries: Query, kind: str = "timeseries", description: Optional[str] = None) -> PanelSpec:
    return PanelSpec(title, tuple(queries), unit, kind, description)


def _backend(namespace: str, extra: str = "") -> str:
    return f'{{namespace="{namespace}",job="{BACKEND.name}"{extra}}}'


def _histogram_p95(metric: str, namespace: str, by: str) -> str:
    return f"histogram_quantile(0.95, sum by ({by}, le) (rate({metric}_bucket{_backend(namespace)}[5m])))"


def overview_panels(ns: str) -> list[tuple[str, list[PanelSpec]]]:
    not_custom = f',{alert_rules.CUSTOM_ENDPOINT_LABEL}!="custom"'
    return [
        ("Traffic and errors", [
            panel("Requests per second", "reqps", q(alert_rules.request_rate(ns), "requests/s")),
            panel("5xx error ratio", "percentunit", q(alert_rules.error_ratio(ns), "5xx ratio")),
            panel("Error budget burn rate (1h)", "none",
                  q(f"tradesense:http_errors:ratio_rate1h / {alert_rules.ERROR_BUDGET:g}", "burn rate"),
                  description="1 = spending the 99.9% SLO's budget exactly over 30 days; 14.4 pages."),
        ]),
        ("Latency", [
            panel("Latency p50 / p95", "s", q(alert_rules.p50_latency(ns), "p50"), q(alert_rules.p95_latency(ns), "p95")),
            panel("Backend replicas", "none",
                  q(f'sum(kube_deployment_status_replicas_available{{namespace="{ns}",deployment="{BACKEND.name}"}})', "available")),
            panel("Backend /metrics targets up", "none",
                  q(f"sum(up{_backend(ns, not_custom)})", "up"), kind="stat"),
        ]),
        ("Saturation", [
            panel("Pod CPU / limit", "percentunit", q(alert_rules.pod_usage_ratio(ns, "cpu"), "{{pod}}")),
            panel("Pod memory / limit", "percentunit", q(alert_rules.pod_usage_ratio(ns, "memory"), "{{pod}}")),
            panel("Redis cache hit ratio", "percentunit", q(alert_rules.cache_hit_ratio(ns), "hit ratio")),
        ]),
    ]


def performance_panels(ns: str) -> list[tuple[str, list[PanelSpec]]]:
    pg = alert_rules.postgres_series(ns)
    redis = alert_rules.redis_series(ns)
    return [
        ("Latency per route", [
            panel("p50 by route", "s", q(alert_rules.latency_quantile(ns, 0.5, "route"), "{{route}}")),
            panel("p95 by route", "s", q(alert_rules.latency_quantile(ns, 0.95, "route"), "{{route}}")),
            panel("p99 by route", "s", q(alert_rules.latency_quantile(ns, 0.99, "route"), "{{route}}")),
        ]),
        ("Database and cache", [
            panel("DB query p95 by operation", "s",
                  q(_histogram_p95("tradesense_db_query_duration_seconds", ns, "operation"), "{{operation}}")),
            panel("Cache operation p95 by operation", "s",
                  q(_histogram_p95("tradesense_cache_operation_duration_seconds", ns, "operation"), "{{operation}}")),
            panel("Redis server time per command", "s",
                  q(f"sum(rate(redis_commands_duration_seconds_total{redis}[5m])) / sum(rate(redis_commands_total{redis}[5m]))",
                    "per command")),
            panel("Postgres backends by state", "none", q(f"sum by (state) (cnpg_backends_total{pg})", "{{state}}")),
            panel("Postgres replication lag", "s", q(f"max by (pod) (cnpg_pg_replication_lag{pg})", "{{pod}}")),
        ]),
        ("Scaling", [
            panel("Backend HPA replicas vs load", "none",
                  q(f'max(kube_horizontalpodautoscaler_status_current_replicas{{namespace="{ns}",horizontalpodautoscaler="{BACKEND.name}"}})',
                    "replicas"),
                  q(f'max(kube_horizontalpodautoscaler_spec_max_replicas{{namespace="{ns}",horizontalpodautoscaler="{BACKEND.name}"}})',
                    "max replicas"),
                  q(f"{alert_rules.request_rate(ns)} / 100", "requests/s / 100")),
            panel("Node CPU", "percentunit",
                  q('1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', "{{instance}}")),
            panel("Node memory", "percentunit",
                  q("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")),
            panel("Pod CPU / limit", "percentunit", q(alert_rules.pod_usage_ratio(ns, "cpu"), "{{pod}}")),
            panel("Pod memory / limit", "percentunit", q(alert_rules.pod_usage_ratio(ns, "memory"), "{{pod}}")),
            panel("Volume usage", "percentunit",
                  q(f'max by (persistentvolumeclaim) (kubelet_volume_stats_used_bytes{{namespace="{ns}"}} '
                    f'/ kubelet_volume_stats_capacity_bytes{{namespace="{ns}"}})', "{{persistentvolumeclaim}}")),
        ]),
    ]


def business_panels(ns: str) -> list[tuple[str, list[PanelSpec]]]:
    b = _backend(ns)
    imported, import_failed = _backend(ns, ',status="success"'), _backend(ns, ',status="failed"')
    payment_failed, unprocessed = _backend(ns, ',status="failed"'), _backend(ns, ',outcome!="processed"')
    return [
        ("Users", [
            panel("Signups per hour by plan", "none",
                  q(f"sum by (plan) (increase(tradesense_signups_total{b}[1h]))", "{{plan}}")),
            panel("Active users", "none", q(f"max by (window) (tradesense_active_users{b})", "{{window}}"), kind="stat"),
        ]),
        ("Trades", [
            panel("Trades imported per hour by broker", "none",
                  q(f"sum by (broker) (increase(tradesense_trades_imported_total{imported}[1h]))",
                    "{{broker}}")),
            panel("Trade import failure ratio", "percentunit",
                  q(f"sum(rate(tradesense_trades_imported_total{import_failed}[1h])) "
                    f"/ sum(rate(tradesense_trades_imported_total{b}[1h]))", "failed")),
        ]),
        ("Payments", [
            panel("Payments per hour by status", "none",
                  q(f"sum by (status) (increase(tradesense_payments_total{b}[1h]))", "{{status}}")),
            panel("Payment failure ratio", "percentunit",
                  q(f"sum(rate(tradesense_payments_total{payment_failed}[1h])) "
                    f"/ sum(rate(tradesense_payments_total{b}[1h]))", "failed")),
            panel("Stripe webhooks by outcome", "reqps",
                  q(f"sum by (outcome) (rate(tradesense_stripe_webhooks_total{b}[5m]))", "{{outcome}}")),
            panel("Unprocessed webhooks per hour by event type", "none",
                  q(f"sum by (event_type) (increase(tradesense_stripe_webhooks_total{unprocessed}[1h]))",
                    "{{event_type}}")),
        ]),
    ]


DASHBOARDS = {
    "tradesense-overview": ("TradeSense overview", overview_panels),
    "tradesense-performance": ("TradeSense performance", performance_panels),
    "tradesense-business-metrics": ("TradeSense business metrics", business_panels),
}


def _panel(spec: PanelSpec, panel_id: int):
    builder = (stat.Panel() if spec.kind == "stat" else timeseries.Panel())
    builder = builder.id(panel_id).title(spec.title).unit(spec.unit).datasource(DATASOURCE).span(WIDTH).height(HEIGHT)
    if spec.description:
        builder = builder.description(spec.description)
    for index, query in enumerate(spec.queries):
        target = prometheus.Dataquery().expr(query.expr).ref_id(chr(ord("A") + index)).datasource(DATASOURCE)
        builder = builder.with_target(target.legend_format(query.legend) if query.legend else target)
    return builder


def build(uid: str, namespace: str) -> dict:
    """The dashboard as Grafana JSON (a plain dict)."""
    title, rows = DASHBOARDS[uid]
    board = (
        grafana.Dashboard(title).uid(uid).tags(["tradesense"]).timezone("utc").refresh("30s")
        .time("now-6h", "now").readonly()
        .with_variable(grafana.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )
    next_id = 1
    for row_title, specs in rows(namespace):
        board = board.with_row(grafana.Row(row_title).id(next_id))
        next_id += 1
        for spec in specs:
            board = board.with_panel(_panel(spec, next_id))
            next_id += 1
    return json.loads(json.dumps(board.build(), cls=JSONEncoder))


def all_dashboards(namespace: str) -> dict[str, dict]:
    return {uid: build(uid, namespace) for uid in DASHBOARDS}


def panel_queries(dashboard: dict) -> Sequence[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
