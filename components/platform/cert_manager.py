"""cert-manager with its CRDs, the ClusterIssuers, and the certificate for the stack's hostnames.

Let's Encrypt staging and prod issuers exist wherever an ACME email is configured; both solve
HTTP-01 through the selected edge (a Gateway HTTPRoute or an Ingress). Dev uses a self-signed
issuer, since Let's Encrypt cannot reach a local cluster. A stack hosting review environments
also gets a wildcard certificate, whose name the issuers solve by DNS-01 (components/platform/dns01.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform import charts
from components.platform.chart_defaults import image_user_pod_context, locked_container_context, resources
from components.platform.dns01 import TOKEN_KEY, TOKEN_SECRET_NAME, dns01_solver
from components.platform.mirrors import Mirrors
from components.platform.review_edge import REVIEW_TLS_SECRET, ReviewWildcard
from components.secure_defaults import recommended_labels

CERT_MANAGER_API = "cert-manager.io/v1"
ACME_SERVERS = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
}
SELF_SIGNED = "selfsigned"


@dataclass(frozen=True)
class CertManagerArgs:
    namespace: k8s.core.v1.Namespace
    namespace_name: str
    provider: k8s.Provider
    issuer: str
    mirrors: Mirrors
    acme_email: Optional[str]
    acme_solver: dict
    hostnames: tuple[str, ...]
    tls_secret_name: str
    certificate_namespace: k8s.core.v1.Namespace
    certificate_namespace_name: str
    # Gateway API HTTP-01 needs cert-manager's Gateway support, and the CRDs before it starts.
    gateway_api_crds: Optional[pulumi.Resource]
    # What must exist before a challenge can be served (the Gateway, or the ingress controller).
    certificate_waits_for: tuple[pulumi.Resource, ...]
    highly_available: bool = True
    # The release that brings the ServiceMonitor CRD. The controller's ServiceMonitor is our own
    # object waiting for it, so the cert-manager release itself does not wait for monitoring.
    monitoring_crds: Optional[pulumi.Resource] = None
    # ClusterInterface.workloads_ready: the release's pods need nodes, DNS and storage.
    workloads_ready: tuple = ()
    # A wildcard certificate for this stack's review environments (DNS-01 with an ACME issuer).
    review_wildcard: Optional[ReviewWildcard] = None


class CertManager(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    issuers: dict[str, k8s.apiextensions.CustomResource]
    certificate: k8s.apiextensions.CustomResource
    review_certificate: Optional[k8s.apiextensions.CustomResource] = None

    def __init__(self, name: str, args: CertManagerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:CertManager", name, None, opts)
        before_release = [args.namespace] + ([args.gateway_api_crds] if args.gateway_api_crds else [])
        self.release = charts.helm_release(
            f"{name}-release",
            charts.CERT_MANAGER,
            args.namespace_name,
            self._values(args),
            mirrors=args.mirrors,
            parent=self,
            provider=args.provider,
            depends_on=[*before_release, *args.workloads_ready],
        )
        # The chart installs the CRDs and waits (startupapicheck) until its webhook answers.
        after_crds = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.release])

        self.issuers = {}
        solvers = [args.acme_solver]
        review = args.review_wildcard
        # Both ACME issuers get the DNS-01 solver, so switching platform.issuer keeps the wildcard.
        if review is not None and review.dns01_provider is not None and args.acme_email:
            solvers.insert(0, dns01_solver(review.dns01_provider, (review.hostname,)))
            self._dns01_token(name, args)
        if args.acme_email:
            for issuer_name, server in ACME_SERVERS.items():
                self.issuers[issuer_name] = self._cluster_issuer(
                    name,
                    issuer_name,
                    {
                        "acme": {
                            "server": server,
                            "email": args.acme_email,
                            "privateKeySecretRef": {"name": f"{issuer_name}-account-key"},
                            "solvers": solvers,
                        }
                    },
                    after_crds,
                )
        if args.issuer == SELF_SIGNED:
            self.issuers[SELF_SIGNED] = self._cluster_issuer(name, SELF_SIGNED, {"selfSigned": {}}, after_crds)
        if args.issuer not in self.issuers:
            raise ValueError(f"issuer {args.issuer} needs platform.acmeEmail")  # config problems() catch this first

        self.certificate = self._certificate(f"{name}-certificate", args.tls_secret_name, args.hostnames, args)
        if review is not None:
            self.review_certificate = self._certificate(f"{name}-review-certificate", REVIEW_TLS_SECRET, (review.hostname,), args)
        if args.monitoring_crds is not None:
            self._controller_monitor(name, args)
        self.register_outputs({"issuer": args.issuer, "certificate": args.tls_secret_name})

    def _certificate(self, resource_name: str, secret_name: str, dns_names: tuple[str, ...],
                     args: CertManagerArgs) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=CERT_MANAGER_API,
            kind="Certificate",
            metadata={
                "name": secret_name,
                "namespace": args.certificate_namespace_name,
                "labels": recommended_labels(secret_name, "tls"),
            },
            spec={
                "secretName": secret_name,
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": args.issuer},
                "dnsNames": list(dns_names),
                # A fresh key on every renewal, so a leaked key dies with its certificate.
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=[self.release, self.issuers[args.issuer], args.certificate_namespace, *args.certificate_waits_for],
            ),
        )

    def _dns01_token(self, name: str, args: CertManagerArgs) -> k8s.core.v1.Secret:
        """The DNS provider's token, where ClusterIssuers resolve secret references (cert-manager's namespace)."""
        token = args.review_wildcard.dns01_token
        if token is None:
            raise ValueError("platform.reviewEnvironments.dns01Provider needs the secret tradesense:dns01ApiToken")  # config catches it first
        return k8s.core.v1.Secret(
            f"{name}-dns01-token",
            metadata={"name": TOKEN_SECRET_NAME, "namespace": args.namespace_name,
                      "labels": recommended_labels(TOKEN_SECRET_NAME, "credentials")},
            type="Opaque",
            string_data={TOKEN_KEY: pulumi.Output.secret(token)},
            # The ClusterIssuer reads it when it solves a challenge; only the namespace must exist.
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace]),
        )

    def _controller_monitor(self, name: str, args: CertManagerArgs) -> k8s.apiextensions.CustomResource:
        # The chart's own ServiceMonitor (templates/servicemonitor.yaml), rendered by us: same
        # selector and port (9402). honorLabels keeps each certificate's `namespace` label.
        release = self.release.name
        return k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": "cert-manager", "namespace": args.namespace_name, "labels": recommended_labels("cert-manager", "monitoring")},
            spec={
                "jobLabel": "cert-manager",
                "selector": {"matchLabels": {
                    "app.kubernetes.io/name": "cert-manager",
                    "app.kubernetes.io/instance": release,
                    "app.kubernetes.io/component": "controller",
                }},
                "namespaceSelector": {"matchNames": [args.namespace_name]},
                "endpoints": [{"targetPort": 9402, "path": "/metrics", "interval": "60s", "honorLabels": True}],
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.release, args.monitoring_crds]),
        )

    def _cluster_issuer(self, name: str, issuer_name: str, spec: dict, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{name}-issuer-{issuer_name}",
            api_version=CERT_MANAGER_API,
            kind="ClusterIssuer",
            metadata={"name": issuer_name, "labels": recommended_labels(issuer_name, "tls")},
            spec=spec,
            opts=opts,
        )

    @staticmethod
    def _values(args: CertManagerArgs) -> dict:
        replicas = 2 if args.highly_available else 1
        small = resources("10m", "64Mi", cpu_limit="200m", memory_limit="128Mi")
        hardened = {"securityContext": image_user_pod_context(), "containerSecurityContext": locked_container_context()}
        values: dict = {
            "crds": {"enabled": True, "keep": True},
            # Leader-election leases in cert-manager's own namespace, not kube-system.
            "global": {"leaderElection": {"namespace": args.namespace_name}},
            "replicaCount": replicas,
            "podDisruptionBudget": {"enabled": args.highly_available},
            "resources": resources("50m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
            **hardened,
            "webhook": {"replicaCount": replicas, "resources": small, **hardened},
            "cainjector": {"replicaCount": replicas, "resources": resources("20m", "128Mi", cpu_limit="200m", memory_limit="256Mi"), **hardened},
            "startupapicheck": {"resources": small, **hardened},
            # Certificate expiry and readiness alerts read the controller's metrics, through the
            # ServiceMonitor of _controller_monitor (the chart's would make the release wait for
            # the monitoring CRDs).
            "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
        }
        if args.gateway_api_crds is not None:
            values["config"] = {
                "apiVersion": "controller.config.cert-manager.io/v1alpha1",
                "kind": "ControllerConfiguration",
                "enableGatewayAPI": True,
            }
        return values
