"""A hand-built PlatformInterface, so the app can be tested without the platform layer.

The edge and Prometheus labels are deliberately different from anything the app uses, so a
NetworkPolicy that allows them proves it read them from the interface.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform.interface import EdgeInterface, PlatformInterface, PostgresOperator

DOMAIN = "tradesense.example"
EDGE_NAMESPACE = "edge-system"
EDGE_POD_LABELS = {"app.kubernetes.io/name": "edge-proxy", "app.kubernetes.io/instance": "public"}
MONITORING_NAMESPACE = "observability"
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus", "prometheus": "kps"}
GATEWAY_NAME = "public"
# A header the app cannot know on its own: proves the routes use the platform's filter.
HEADERS_FILTER = {
    "type": "ResponseHeaderModifier",
    "responseHeaderModifier": {"set": [{"name": "X-Stub-Platform-Header", "value": "from-platform"}]},
}
HTTPS_SECTIONS = ("https-apex", "https-www", "https-api")
OPERATOR_NAMESPACE = "db-operators"
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "stub-cnpg", "tier": "operator"}


def stub_platform(
    provider: k8s.Provider,
    edge_kind: str = "gateway-api",
    tls_secret_namespace: Optional[str] = None,
) -> PlatformInterface:
    namespace = k8s.core.v1.Namespace(
        "stub-tradesense-namespace",
        metadata={"name": "tradesense"},
        opts=pulumi.ResourceOptions(provider=provider),
    )
    ready = k8s.core.v1.ConfigMap(
        "stub-edge-ready",
        metadata={"name": "edge-ready", "namespace": EDGE_NAMESPACE},
        opts=pulumi.ResourceOptions(provider=provider),
    )
    if edge_kind == "gateway-api":
        edge = EdgeInterface(
            kind="gateway-api", namespace=EDGE_NAMESPACE, pod_labels=EDGE_POD_LABELS,
            gateway_name=GATEWAY_NAME, https_sections=HTTPS_SECTIONS, ready=(ready,),
            response_headers_filter=HEADERS_FILTER,
        )
        tls_namespace = tls_secret_namespace or EDGE_NAMESPACE
    else:
        edge = EdgeInterface(
            kind="ingress-nginx", namespace=EDGE_NAMESPACE, pod_labels=EDGE_POD_LABELS,
            ingress_class="nginx", ready=(ready,),
        )
        tls_namespace = tls_secret_namespace or "tradesense"
    return PlatformInterface(
        edge=edge,
        domain=DOMAIN,
        hostnames=(DOMAIN, f"www.{DOMAIN}", f"api.{DOMAIN}"),
        api_hostname=f"api.{DOMAIN}",
        app_namespace="tradesense",
        monitoring_namespace=MONITORING_NAMESPACE,
        tls_secret_name="tradesense-tls",
        tls_secret_namespace=tls_namespace,
        prometheus_pod_labels=PROMETHEUS_POD_LABELS,
        namespaces={"tradesense": namespace},
        postgres_operator=PostgresOperator(
            namespace=OPERATOR_NAMESPACE, operator_pod_labels=OPERATOR_POD_LABELS,
            plugin_pod_labels={"app.kubernetes.io/name": "stub-barman-cloud"}, ready=(ready,), plugin_ready=(ready,),
        ),
    )
