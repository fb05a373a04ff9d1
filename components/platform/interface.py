"""What the platform layer hands the app layer (cloud-neutral, no SDK types beyond Pulumi's).

The app component routes traffic through the edge, allows the edge and Prometheus in its
NetworkPolicies, uses the platform's certificate, and makes its ServiceMonitors and
PrometheusRules wait for the release that brings their CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform.mirrors import UPSTREAM, Mirrors

EdgeKind = Literal["gateway-api", "ingress-nginx"]


@dataclass(frozen=True)
class EdgeInterface:
    kind: EdgeKind
    # Namespace the edge controller (and, for gateway-api, the Gateway) runs in.
    namespace: str
    # Labels of the edge data-plane pods, for NetworkPolicy `from` rules.
    pod_labels: Mapping[str, str]
    # gateway-api: the Gateway HTTPRoutes attach to, and its HTTPS listener names (sectionName).
    gateway_name: Optional[str] = None
    https_sections: tuple[str, ...] = ()
    # ingress-nginx: the IngressClass name.
    ingress_class: Optional[str] = None
    # Resources a route/ingress must wait for (CRDs, controller release, Gateway).
    ready: tuple[pulumi.Resource, ...] = ()
    # The guide's security headers (name -> value) that every HTTPS response carries.
    security_headers: Mapping[str, str] = field(default_factory=dict)
    # gateway-api: an HTTPRoute rule filter setting those headers. Gateway API has no
    # Gateway-wide response filter, so EVERY rule of every HTTPS HTTPRoute must include it.
    # ingress-nginx: None (the controller adds the headers itself).
    response_headers_filter: Optional[Mapping[str, Any]] = None


@dataclass(frozen=True)
class PostgresOperator:
    """CloudNativePG and its barman-cloud plugin, for Cluster/ObjectStore objects and their policies."""

    namespace: str
    operator_pod_labels: Mapping[str, str]
    plugin_pod_labels: Mapping[str, str]
    # The release whose CRDs Cluster and ScheduledBackup need (the operator), and the one that
    # brings ObjectStore (the plugin). Kept apart so the Cluster never waits for the plugin.
    ready: tuple[pulumi.Resource, ...] = ()
    plugin_ready: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class PlatformInterface:
    edge: EdgeInterface
    domain: str
    # apex, www and api hostnames, in that order.
    hostnames: tuple[str, ...]
    api_hostname: str
    app_namespace: str
    monitoring_namespace: str
    # The Secret holding the TLS certificate for `hostnames`, and the namespace it lives in.
    tls_secret_name: str
    tls_secret_namespace: str
    # Labels of the Prometheus server pods, for NetworkPolicy `from` rules.
    prometheus_pod_labels: Mapping[str, str]
    # Labels a ServiceMonitor / PrometheusRule / dashboard ConfigMap needs to be picked up.
    monitoring_labels: Mapping[str, str] = field(default_factory=dict)
    dashboard_label: Mapping[str, str] = field(default_factory=dict)
    # The release whose CRDs ServiceMonitor and PrometheusRule need.
    monitoring_crds: Optional[pulumi.Resource] = None
    # Namespace resources by name, so namespaced objects can depend on them.
    namespaces: Mapping[str, k8s.core.v1.Namespace] = field(default_factory=dict)
    # What every app object waits for besides its namespace (a review environment's RoleBinding,
    # which gives the CI identity its rights there).
    app_prerequisites: tuple[pulumi.Resource, ...] = ()
    postgres_operator: Optional[PostgresOperator] = None
    # Where images come from (platform.imageMirror): the app pulls its own through it too.
    mirrors: Mirrors = UPSTREAM
