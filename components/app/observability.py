"""Monitoring built into the app: a ServiceMonitor for the backend's /metrics, the corrected
alert rules, and a Grafana overview dashboard picked up by the platform's sidecar.

The ServiceMonitor and PrometheusRule wait for the kube-prometheus-stack release that brings
their CRDs; Prometheus (which the platform lets select them in every namespace) is allowed to
reach the backend on 8000 by the app's NetworkPolicies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app import alert_rules
from components.app.placement import Placement
from components.app.workloads import BACKEND
from components.secure_defaults import recommended_labels

METRICS_PATH = "/metrics"
SCRAPE_INTERVAL = "30s"


@dataclass(frozen=True)
class ObservabilityArgs:
    placement: Placement
    monitoring_crds: Optional[pulumi.Resource]
    monitoring_labels: Mapping[str, str]
    dashboard_label: Mapping[str, str]
    # Standbys only exist with more than one instance (then a lost one alerts).
    postgres_instances: int = 1
    depends_on: tuple[pulumi.Resource, ...] = ()


def overview_dashboard(namespace: str) -> dict:
    """The guide's tradesense-overview dashboard: traffic, errors and latency of the backend."""
    panels = [
        ("Requests per second", alert_rules.request_rate(namespace), "reqps"),
        ("5xx error ratio", alert_rules.error_ratio(namespace), "percentunit"),
        ("p95 latency", alert_rules.p95_latency(namespace), "s"),
    ]
    return {
        "uid": "tradesense-overview",
        "title": "TradeSense overview",
        "tags": ["tradesense"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "gridPos": {"x": 8 * index, "y": 0, "w": 8, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr}],
            }
            for index, (title, expr, unit) in enumerate(panels)
        ],
    }


class Observability(pulumi.ComponentResource):
    service_monitor: k8s.apiextensions.CustomResource
    rules: k8s.apiextensions.CustomResource
    dashboard: k8s.core.v1.ConfigMap

    def __init__(self, name: str, args: ObservabilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Observability", name, None, opts)
        placement = args.placement
        crds = [args.monitoring_crds] if args.monitoring_crds is not None else []
        after_crds = placement.opts(self, [*crds, *args.depends_on])
        labels = {**recommended_labels("tradesense", "monitoring"), **args.monitoring_labels}

        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-backend-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=placement.metadata(BACKEND.name, labels),
            spec={
                "selector": {"matchLabels": BACKEND.selector},
                "namespaceSelector": {"matchNames": [placement.namespace]},
                "endpoints": [{"port": "http", "path": METRICS_PATH, "interval": SCRAPE_INTERVAL, "scheme": "http"}],
            },
            opts=after_crds,
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=placement.metadata("tradesense", labels),
            spec={"groups": alert_rules.rule_groups(placement.namespace, args.postgres_instances)},
            opts=after_crds,
        )
        self.dashboard = k8s.core.v1.ConfigMap(
            f"{name}-overview-dashboard",
            metadata=placement.metadata(
                "tradesense-overview-dashboard", {**recommended_labels("tradesense", "dashboard"), **args.dashboard_label}
            ),
            data={"tradesense-overview.json": json.dumps(overview_dashboard(placement.namespace), indent=2)},
            opts=placement.opts(self, list(args.depends_on)),
        )
        self.register_outputs({"serviceMonitor": BACKEND.name, "prometheusRule": "tradesense"})
