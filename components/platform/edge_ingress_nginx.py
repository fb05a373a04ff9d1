"""Optional edge: ingress-nginx, as the deployment guide has it (the project is retired upstream).

Kubernetes retired ingress-nginx in March 2026: 4.15.x (controller 1.15) is the last release
and gets no security fixes, so choosing it prints a warning on every preview and update.

Hardening: snippet annotations off (the `*-snippet` annotations let anyone who can write an
Ingress inject NGINX config, the root of several past CVEs); HSTS from the controller's own
`hsts*` keys and the other headers from an `add-headers` ConfigMap, so every response carries
them without any per-Ingress configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform import charts
from components.platform.chart_defaults import resources
from components.platform.interface import EdgeInterface
from components.platform.mirrors import Mirrors
from components.platform.security_headers import SECURITY_HEADERS, ingress_nginx_added_headers, ingress_nginx_hsts_config
from components.secure_defaults import recommended_labels

RELEASE_NAME = "ingress-nginx"
INGRESS_CLASS = "nginx"
HEADERS_CONFIGMAP = "security-headers"
RETIREMENT_WARNING = (
    "platform.edge is 'ingress-nginx': the ingress-nginx project was retired upstream in March 2026 and "
    f"receives no further releases or security fixes ({charts.INGRESS_NGINX.version} is the last chart). "
    "Switch to the default edge with: pulumi config set --path tradesense:platform.edge gateway-api"
)


@dataclass(frozen=True)
class IngressNginxEdgeArgs:
    namespace: k8s.core.v1.Namespace
    namespace_name: str
    app_namespace: str
    load_balancer_annotations: Mapping[str, str]
    service_type: str
    replicas: int
    provider: k8s.Provider
    mirrors: Mirrors
    # The release whose CRDs the chart's ServiceMonitor needs (kube-prometheus-stack).
    monitoring_crds: Optional[pulumi.Resource] = None
    # ClusterInterface.workloads_ready: the release's pods need nodes, DNS and storage.
    workloads_ready: tuple = ()


class IngressNginxEdge(pulumi.ComponentResource):
    interface: EdgeInterface
    controller: k8s.helm.v3.Release
    headers: k8s.core.v1.ConfigMap
    acme_solver: dict
    certificate_namespace: str
    certificate_waits_for: tuple[pulumi.Resource, ...]
    # Gateway API CRDs are not part of this edge.
    crds: Optional[pulumi.Resource] = None

    def __init__(self, name: str, args: IngressNginxEdgeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:IngressNginxEdge", name, None, opts)
        pulumi.log.warn(RETIREMENT_WARNING, resource=self)

        self.headers = k8s.core.v1.ConfigMap(
            f"{name}-security-headers",
            metadata={
                "name": HEADERS_CONFIGMAP,
                "namespace": args.namespace_name,
                "labels": recommended_labels(HEADERS_CONFIGMAP, "edge"),
            },
            data=ingress_nginx_added_headers(),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace]),
        )
        self.controller = charts.helm_release(
            f"{name}-controller",
            charts.INGRESS_NGINX,
            args.namespace_name,
            self._values(args),
            mirrors=args.mirrors,
            parent=self,
            provider=args.provider,
            depends_on=[args.namespace, self.headers, *([args.monitoring_crds] if args.monitoring_crds else []), *args.workloads_ready],
            release_name=RELEASE_NAME,
        )

        self.acme_solver = {"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}
        # An Ingress reads its TLS Secret from its own namespace: the app's.
        self.certificate_namespace = args.app_namespace
        self.certificate_waits_for = (self.controller,)
        self.interface = EdgeInterface(
            kind="ingress-nginx",
            namespace=args.namespace_name,
            pod_labels={
                "app.kubernetes.io/name": "ingress-nginx",
                "app.kubernetes.io/instance": RELEASE_NAME,
                "app.kubernetes.io/component": "controller",
            },
            ingress_class=INGRESS_CLASS,
            ready=(self.controller,),
            security_headers=dict(SECURITY_HEADERS),
        )
        self.register_outputs({"ingressClass": INGRESS_CLASS})

    @staticmethod
    def _values(args: IngressNginxEdgeArgs) -> dict:
        service: dict = {"type": args.service_type, "externalTrafficPolicy": "Local"}
        if args.load_balancer_annotations:
            service["annotations"] = dict(args.load_balancer_annotations)
        return {
            "controller": {
                "replicaCount": args.replicas,
                "ingressClassResource": {"name": INGRESS_CLASS, "enabled": True, "default": False},
                "watchIngressWithoutClass": False,
                "allowSnippetAnnotations": False,
                "config": {
                    **ingress_nginx_hsts_config(),
                    "add-headers": f"{args.namespace_name}/{HEADERS_CONFIGMAP}",
                    # Reject annotations the project rates Critical (snippets and the like).
                    "annotations-risk-level": "High",
                    "server-tokens": "false",
                    "ssl-redirect": "true",
                },
                # Ports 80/443 without privilege escalation: a `restricted`-safe sysctl.
                "sysctls": {"net.ipv4.ip_unprivileged_port_start": "0"},
                "image": {"allowPrivilegeEscalation": False},
                "service": service,
                "resources": resources("100m", "256Mi", cpu_limit="1", memory_limit="512Mi"),
                # Scraped through the chart's ServiceMonitor (Prometheus selects monitors in every namespace).
                "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
                "admissionWebhooks": {
                    "enabled": True,
                    "createSecretJob": {"resources": resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi")},
                    "patchWebhookJob": {"resources": resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi")},
                },
            },
            "defaultBackend": {"enabled": False},
        }
