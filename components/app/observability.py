"""Monitoring built into the app: ServiceMonitors for the backend (`/metrics` and the custom
`/api/v1/monitoring/metrics`) and for the Redis exporter sidecar, the alert rules, and the
Grafana dashboards picked up by the platform's sidecar.

The monitors and the PrometheusRule wait for the kube-prometheus-stack release that brings
their CRDs; Prometheus (which the platform lets select them in every namespace) is allowed to
reach the backend on 8000 and the Redis exporter on its port by the app's NetworkPolicies.
(The Postgres PodMonitor and its allow come with the CloudNativePG cluster.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app import alert_rules, dashboards, redis_exporter
from components.app.placement import Placement
from components.app.workloads import BACKEND
from components.secure_defaults import recommended_labels, selector_labels

METRICS_PATH = "/metrics"
# The guide's second endpoint; docs/metrics.md is its contract (Prometheus text format).
CUSTOM_METRICS_PATH = "/api/v1/monitoring/metrics"
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


class Observability(pulumi.ComponentResource):
    service_monitor: k8s.apiextensions.CustomResource
    redis_metrics_service: k8s.core.v1.Service
    redis_service_monitor: k8s.apiextensions.CustomResource
    rules: k8s.apiextensions.CustomResource
    dashboards: list[k8s.core.v1.ConfigMap]

    def __init__(self, name: str, args: ObservabilityArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Observability", name, None, opts)
        placement = args.placement
        crds = [args.monitoring_crds] if args.monitoring_crds is not None else []
        after_crds = placement.opts(self, [*crds, *args.depends_on])
        labels = {**recommended_labels("tradesense", "monitoring"), **args.monitoring_labels}

        def service_monitor(role: str, service: str, selector: dict, endpoints: list[dict], after: list):
            return k8s.apiextensions.CustomResource(
                f"{name}-{role}-service-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=placement.metadata(service, labels),
                spec={
                    "selector": {"matchLabels": selector},
                    "namespaceSelector": {"matchNames": [placement.namespace]},
                    "endpoints": [{"interval": SCRAPE_INTERVAL, "scheme": "http", **e} for e in endpoints],
                },
                opts=placement.opts(self, [*crds, *after]),
            )

        self.service_monitor = service_monitor("backend", BACKEND.name, BACKEND.selector, [
            {"port": "http", "path": METRICS_PATH},
            # Its own `up` series, kept apart from /metrics' (see TradeSenseBackendDown).
            {"port": "http", "path": CUSTOM_METRICS_PATH,
             "relabelings": [{"action": "replace", "targetLabel": alert_rules.CUSTOM_ENDPOINT_LABEL, "replacement": "custom"}]},
        ], list(args.depends_on))
        self.redis_metrics_service = k8s.core.v1.Service(
            f"{name}-redis-metrics-service",
            metadata=placement.metadata(redis_exporter.SERVICE_NAME, recommended_labels(redis_exporter.SERVICE_NAME, "monitoring")),
            spec=redis_exporter.metrics_service_spec(),
            opts=placement.opts(self, list(args.depends_on)),
        )
        self.redis_service_monitor = service_monitor(
            "redis", redis_exporter.SERVICE_NAME, selector_labels(redis_exporter.SERVICE_NAME),
            [{"port": redis_exporter.PORT_NAME}], [self.redis_metrics_service])
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=placement.metadata("tradesense", labels),
            spec={"groups": alert_rules.rule_groups(placement.namespace, args.postgres_instances)},
            opts=after_crds,
        )
        dashboard_labels = {**recommended_labels("tradesense", "dashboard"), **args.dashboard_label}
        self.dashboards = [
            k8s.core.v1.ConfigMap(
                # `overview` keeps the resource name it had as a hand-written dashboard.
                f"{name}-{uid.removeprefix('tradesense-')}-dashboard",
                metadata=placement.metadata(f"{uid}-dashboard", dashboard_labels),
                data={f"{uid}.json": json.dumps(board, indent=2)},
                opts=placement.opts(self, list(args.depends_on)),
            )
            for uid, board in dashboards.all_dashboards(placement.namespace).items()
        ]
        self.register_outputs({"serviceMonitor": BACKEND.name, "prometheusRule": "tradesense",
                               "dashboards": list(dashboards.DASHBOARDS)})
