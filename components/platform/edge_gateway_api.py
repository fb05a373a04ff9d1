"""Default edge: Gateway API (standard channel CRDs) served by NGINX Gateway Fabric.

The Gateway owns the only public Service: NGF provisions an NGINX Deployment and a
LoadBalancer Service per Gateway, and copies `spec.infrastructure.annotations` onto them, which
is how the cloud's load-balancer annotations reach that Service. Port 80 only redirects to
HTTPS (and serves cert-manager's HTTP-01 challenge routes, whose exact-path match outranks the
redirect's prefix match); one HTTPS listener per hostname terminates TLS with the platform
certificate and accepts HTTPRoutes from the app namespace only. With review environments, one
more listener for `*.<domain>` (wildcard certificate) accepts routes from their namespaces only.

The CRDs come from the pinned upstream release file, vendored in the repository and checked
against its sha256 (components/platform/charts.py), through `yaml.v2.ConfigFile`, which the
provider renders: under the mock runtime it is one resource with no children, so tests check
the file, its checksum and the dependency edges; the offline plan renders its objects.
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
from components.platform.review_edge import REVIEW_LISTENER, REVIEW_TLS_SECRET, ReviewWildcard, review_namespace_labels
from components.platform.security_headers import SECURITY_HEADERS, response_header_filter
from components.secure_defaults import recommended_labels

GATEWAY_CLASS = "nginx"
GATEWAY_NAME = "tradesense"
HTTP_LISTENER = "http"
# The label Gateway API implementations (GEP-1762) put on a Gateway's data-plane pods.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
GATEWAY_API_GROUP = "gateway.networking.k8s.io/v1"
RELEASE_NAME = "nginx-gateway-fabric"
METRICS_PORT = 9113
# The chart's selector labels (templates/_helpers.tpl "nginx-gateway.selectorLabels") on the
# control-plane pods; the data-plane pods NGF provisions carry the Gateway's labels instead.
CONTROL_PLANE_POD_LABELS = {"app.kubernetes.io/name": "nginx-gateway-fabric", "app.kubernetes.io/instance": RELEASE_NAME}


@dataclass(frozen=True)
class GatewayApiEdgeArgs:
    namespace: k8s.core.v1.Namespace
    namespace_name: str
    app_namespace: str
    hostnames: tuple[str, ...]
    tls_secret_name: str
    load_balancer_annotations: Mapping[str, str]
    service_type: str
    replicas: int
    provider: k8s.Provider
    mirrors: Mirrors
    # The release whose CRDs the control-plane PodMonitor needs (kube-prometheus-stack).
    monitoring_crds: Optional[pulumi.Resource] = None
    # ClusterInterface.workloads_ready: the release's pods need nodes, DNS and storage.
    workloads_ready: tuple = ()
    # A wildcard listener for this stack's review environments.
    review_wildcard: Optional[ReviewWildcard] = None


def https_listener_name(hostname: str, apex: str) -> str:
    prefix = hostname.removesuffix(apex).rstrip(".")
    return f"https-{prefix or 'apex'}"


def https_listener(name: str, hostname: str, tls_secret: str, namespace_labels: Mapping[str, str]) -> dict:
    """A TLS-terminating listener that accepts HTTPRoutes only from namespaces with these labels."""
    return {
        "name": name,
        "hostname": hostname,
        "port": 443,
        "protocol": "HTTPS",
        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": tls_secret}]},
        "allowedRoutes": {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": dict(namespace_labels)}},
            "kinds": [{"kind": "HTTPRoute"}],
        },
    }


def retain_on_delete(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult:
    """Applied to every child the provider renders (the CRDs), which mocks cannot show."""
    return pulumi.ResourceTransformResult(args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(retain_on_delete=True)))


class GatewayApiEdge(pulumi.ComponentResource):
    interface: EdgeInterface
    crds: k8s.yaml.v2.ConfigFile
    controller: k8s.helm.v3.Release
    gateway: k8s.apiextensions.CustomResource
    control_plane_monitor: Optional[k8s.apiextensions.CustomResource] = None
    # The ACME HTTP-01 solver for ClusterIssuers, and what a Certificate must wait for.
    acme_solver: dict
    certificate_namespace: str
    certificate_waits_for: tuple[pulumi.Resource, ...]

    def __init__(self, name: str, args: GatewayApiEdgeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:GatewayApiEdge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        apex = args.hostnames[0]

        # CRDs are cluster-wide: deleting them deletes every Gateway and route. Keep them in the
        # cluster when this component goes away (an edge switch, a refactor).
        self.crds = k8s.yaml.v2.ConfigFile(
            f"{name}-gateway-api-crds",
            file=charts.verified_vendored_file(charts.GATEWAY_API_CRDS_FILE, charts.GATEWAY_API_CRDS_SHA256),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True, transforms=[retain_on_delete])),
        )

        self.controller = charts.helm_release(
            f"{name}-nginx-gateway-fabric",
            charts.NGINX_GATEWAY_FABRIC,
            args.namespace_name,
            self._values(args),
            mirrors=args.mirrors,
            parent=self,
            provider=args.provider,
            # The chart ships no monitoring objects (the PodMonitor below is ours): no wait for their CRDs.
            depends_on=[args.namespace, self.crds, *args.workloads_ready],
            release_name=RELEASE_NAME,
        )

        if args.monitoring_crds is not None:
            self.control_plane_monitor = self._control_plane_monitor(name, args)

        infrastructure: dict = {"labels": {"app.kubernetes.io/part-of": "tradesense"}}
        if args.load_balancer_annotations:
            infrastructure["annotations"] = dict(args.load_balancer_annotations)
        https_listeners = [
            https_listener(https_listener_name(host, apex), host, args.tls_secret_name,
                           {"kubernetes.io/metadata.name": args.app_namespace})
            for host in args.hostnames
        ]
        redirect_hostnames = list(args.hostnames)
        review_listeners = []
        if args.review_wildcard is not None:
            # More specific listeners win (Gateway API), so the stack's own hostnames keep theirs.
            review = args.review_wildcard
            review_listeners.append(https_listener(REVIEW_LISTENER, review.hostname, REVIEW_TLS_SECRET,
                                                   review_namespace_labels(review.host_stack)))
            redirect_hostnames.append(review.hostname)
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API_GROUP,
            kind="Gateway",
            metadata={
                "name": GATEWAY_NAME,
                "namespace": args.namespace_name,
                "labels": recommended_labels(GATEWAY_NAME, "edge"),
            },
            spec={
                "gatewayClassName": GATEWAY_CLASS,
                "infrastructure": infrastructure,
                "listeners": [
                    # Only the platform's redirect and cert-manager's challenge routes live here.
                    {"name": HTTP_LISTENER, "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}},
                    *https_listeners,
                    *review_listeners,
                ],
            },
            # The GatewayClass comes from the NGF release, the Gateway kind from the CRDs.
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.crds, self.controller]),
        )

        redirect = k8s.apiextensions.CustomResource(
            f"{name}-https-redirect",
            api_version=GATEWAY_API_GROUP,
            kind="HTTPRoute",
            metadata={
                "name": "https-redirect",
                "namespace": args.namespace_name,
                "labels": recommended_labels("https-redirect", "edge"),
            },
            spec={
                "parentRefs": [{"name": GATEWAY_NAME, "sectionName": HTTP_LISTENER}],
                "hostnames": redirect_hostnames,
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}],
                    }
                ],
            },
            # An HTTPRoute attaches whenever its Gateway appears: it needs the CRDs, not the Gateway.
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.crds]),
        )

        self.acme_solver = {
            "http01": {
                "gatewayHTTPRoute": {
                    "parentRefs": [
                        {"name": GATEWAY_NAME, "namespace": args.namespace_name, "kind": "Gateway", "sectionName": HTTP_LISTENER}
                    ]
                }
            }
        }
        # The Gateway looks its certificate Secret up in its own namespace.
        self.certificate_namespace = args.namespace_name
        # The Certificate waits for nothing of the edge: cert-manager's HTTP-01 self-check retries
        # (without asking the ACME server) until the Gateway serves the challenge route.
        self.certificate_waits_for = ()
        self.interface = EdgeInterface(
            kind="gateway-api",
            namespace=args.namespace_name,
            pod_labels={GATEWAY_NAME_LABEL: GATEWAY_NAME},
            gateway_name=GATEWAY_NAME,
            https_sections=tuple(listener["name"] for listener in https_listeners),
            # An HTTPRoute only needs its CRD: it attaches to the Gateway whenever that is
            # programmed, so waiting for the controller and Gateway would only serialise the deploy.
            ready=(self.crds,),
            security_headers=dict(SECURITY_HEADERS),
            response_headers_filter=response_header_filter(),
        )
        self.register_outputs({"gateway": GATEWAY_NAME, "httpsSections": list(self.interface.https_sections)})

    def _control_plane_monitor(self, name: str, args: GatewayApiEdgeArgs) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{name}-control-plane-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata={"name": "nginx-gateway-fabric", "namespace": args.namespace_name,
                      "labels": recommended_labels("nginx-gateway-fabric", "monitoring")},
            spec={
                "selector": {"matchLabels": dict(CONTROL_PLANE_POD_LABELS)},
                "namespaceSelector": {"matchNames": [args.namespace_name]},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "60s"}],
            },
            # Only the PodMonitor CRD is needed: it selects the pods whenever they appear.
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace, args.monitoring_crds]),
        )

    @staticmethod
    def _values(args: GatewayApiEdgeArgs) -> dict:
        return {
            "nginxGateway": {
                "gatewayClassName": GATEWAY_CLASS,
                "replicas": 2 if args.replicas > 1 else 1,
                "resources": resources("100m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
                # No usage reports leave production clusters; no raw NGINX config from routes or
                # Gateways (`snippets` replaced `snippetsFilters` in NGF 2.4 and covers SnippetsPolicy too).
                "productTelemetry": {"enable": False},
                "snippets": {"enable": False},
                # Control-plane metrics on the container port `metrics` (9113). Chart 2.6.5 has no
                # Service or ServiceMonitor for them (only prometheus.io annotations, which the
                # Prometheus operator ignores): the PodMonitor below scrapes them.
                "metrics": {"enable": True, "port": METRICS_PORT},
            },
            "nginx": {
                # The data plane's own exporter has no Service or monitor in the chart: off, not half-wired.
                "config": {"metrics": {"disable": True}},
                "replicas": args.replicas,
                "service": {"type": args.service_type, "externalTrafficPolicy": "Local"},
                "container": {"resources": resources("100m", "128Mi", cpu_limit="1", memory_limit="512Mi")},
            },
        }
