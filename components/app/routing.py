"""Public routing through the platform's edge, over TLS from the platform's certificate.

  https://<apex>/ and https://www.<apex>/  -> frontend
  https://<apex>/api/...                   -> backend
  https://api.<apex>/                      -> backend

Gateway API: HTTPRoutes in the app namespace attach to the platform's Gateway (another
namespace), each to the HTTPS listeners of its own hostnames; the Gateway's `allowedRoutes`
admits this namespace (the platform's side of the contract). Backends are same-namespace
Services, so no ReferenceGrant is needed. Gateway API has no Gateway-wide response filter, so
every rule carries the platform's security-headers filter.

ingress-nginx: one Ingress with the IngressClass and the TLS Secret (which must live in the
app namespace: an Ingress cannot reference another namespace's Secret). The controller adds
the security headers to every response itself; per-Ingress snippet annotations stay off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.placement import Placement
from components.app.workloads import BACKEND, FRONTEND, Workload
from components.platform.interface import EdgeInterface
from components.secure_defaults import recommended_labels

GATEWAY_API = "gateway.networking.k8s.io/v1"


@dataclass(frozen=True)
class RoutingArgs:
    placement: Placement
    edge: EdgeInterface
    apex_hostname: str
    www_hostname: str
    api_hostname: str
    # Every hostname the platform serves, in PlatformInterface order (apex, www, api).
    all_hostnames: tuple[str, ...]
    tls_secret_name: str
    tls_secret_namespace: str
    depends_on: tuple[pulumi.Resource, ...] = ()


def security_headers_filter(edge: EdgeInterface) -> dict:
    """The platform's filter; failing that, one built from the platform's header list."""
    if edge.response_headers_filter:
        return dict(edge.response_headers_filter)
    if not edge.security_headers:
        raise ValueError("platform edge is gateway-api but provides neither response_headers_filter nor security_headers")
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"set": [{"name": k, "value": v} for k, v in edge.security_headers.items()]},
    }


def listener_sections(edge: EdgeInterface, all_hostnames: tuple[str, ...], hostnames: list[str]) -> list[str]:
    """HTTPS listeners serving `hostnames`. The platform names one listener per hostname, in the
    order of `PlatformInterface.hostnames`; if that pairing is not available, attach to all
    (the Gateway then accepts the route only on listeners whose hostname matches)."""
    if len(edge.https_sections) == len(all_hostnames):
        by_host = dict(zip(all_hostnames, edge.https_sections))
        return [by_host[h] for h in hostnames if h in by_host]
    return list(edge.https_sections)


def http_route_spec(args: RoutingArgs, hostnames: list[str], rules: list[tuple[str, Workload]]) -> dict:
    edge = args.edge
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": edge.gateway_name, "namespace": edge.namespace}
    sections = listener_sections(edge, args.all_hostnames, hostnames)
    headers = security_headers_filter(edge)
    return {
        "parentRefs": [{**parent, "sectionName": section} for section in sections] or [parent],
        "hostnames": hostnames,
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "filters": [headers],
                "backendRefs": [{"name": workload.name, "port": workload.port}],
            }
            for prefix, workload in rules
        ],
    }


def ingress_spec(args: RoutingArgs) -> dict:
    def path(prefix: str, workload: Workload) -> dict:
        return {
            "path": prefix,
            "pathType": "Prefix",
            "backend": {"service": {"name": workload.name, "port": {"number": workload.port}}},
        }

    return {
        "ingressClassName": args.edge.ingress_class,
        "tls": [{"hosts": [args.apex_hostname, args.www_hostname, args.api_hostname], "secretName": args.tls_secret_name}],
        "rules": [
            {"host": args.apex_hostname, "http": {"paths": [path("/api", BACKEND), path("/", FRONTEND)]}},
            {"host": args.www_hostname, "http": {"paths": [path("/", FRONTEND)]}},
            {"host": args.api_hostname, "http": {"paths": [path("/", BACKEND)]}},
        ],
    }


class Routing(pulumi.ComponentResource):
    routes: tuple[pulumi.CustomResource, ...]

    def __init__(self, name: str, args: RoutingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Routing", name, None, opts)
        placement, edge = args.placement, args.edge
        after = (*edge.ready, *args.depends_on)
        labels = recommended_labels("tradesense", "routing")
        if edge.kind == "gateway-api":
            if not edge.gateway_name:
                raise ValueError("platform edge is gateway-api but reports no gateway_name for HTTPRoutes to attach to")
            web = http_route_spec(
                args, [args.apex_hostname, args.www_hostname], [("/api", BACKEND), ("/", FRONTEND)]
            )
            api = http_route_spec(args, [args.api_hostname], [("/", BACKEND)])
            self.routes = tuple(
                k8s.apiextensions.CustomResource(
                    f"{name}-{role}-route",
                    api_version=GATEWAY_API,
                    kind="HTTPRoute",
                    metadata=placement.metadata(route_name, labels),
                    spec=spec,
                    opts=placement.opts(self, after),
                )
                for role, route_name, spec in (("web", "tradesense-web", web), ("api", "tradesense-api", api))
            )
        else:
            if args.tls_secret_namespace != placement.namespace:
                raise ValueError(
                    f"ingress-nginx: the TLS Secret {args.tls_secret_namespace}/{args.tls_secret_name} must be in "
                    f"the app namespace {placement.namespace} (an Ingress cannot reference another namespace's Secret)"
                )
            self.routes = (
                k8s.networking.v1.Ingress(
                    f"{name}-ingress",
                    metadata=placement.metadata("tradesense", labels),
                    spec=ingress_spec(args),
                    opts=placement.opts(self, after),
                ),
            )
        self.register_outputs({"hosts": [args.apex_hostname, args.www_hostname, args.api_hostname]})
