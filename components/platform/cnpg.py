"""CloudNativePG: the operator and its barman-cloud plugin, as pinned Helm releases in
`cnpg-system`.

The plugin replaces the in-tree `barmanObjectStore` (deprecated since CNPG 1.26, removed in
1.32). It serves the operator over mTLS with certificates from cert-manager (which the
platform installs first) and injects a sidecar into every Postgres pod that archives WAL and
takes base backups. The operator owns the Postgres pods' PodDisruptionBudgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform import charts
from components.platform.mirrors import Mirrors

NAMESPACE = "cnpg-system"
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}
PLUGIN_POD_LABELS = {"app.kubernetes.io/name": "plugin-barman-cloud"}


@dataclass(frozen=True)
class CloudNativePgArgs:
    namespace: k8s.core.v1.Namespace
    provider: k8s.Provider
    # The cert-manager release: the plugin's chart creates an Issuer and Certificates.
    cert_manager: pulumi.Resource
    highly_available: bool
    mirrors: Mirrors
    # ClusterInterface.nodes_ready: the operator and plugin pods need nodes only (no DNS, no volumes).
    nodes_ready: tuple = ()


class CloudNativePg(pulumi.ComponentResource):
    operator: k8s.helm.v3.Release
    plugin: k8s.helm.v3.Release

    def __init__(self, name: str, args: CloudNativePgArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:CloudNativePg", name, None, opts)
        self.operator = charts.helm_release(
            f"{name}-operator", charts.CLOUDNATIVE_PG, NAMESPACE,
            {
                "replicaCount": 2 if args.highly_available else 1,
                "crds": {"create": True},
                # The app's PodMonitor (components/app/postgres.py) scrapes the instances.
                "monitoring": {"podMonitorEnabled": False},
                "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"cpu": "500m", "memory": "400Mi"}},
            },
            mirrors=args.mirrors, parent=self, provider=args.provider, depends_on=[args.namespace, *args.nodes_ready],
        )
        self.plugin = charts.helm_release(
            f"{name}-barman-cloud", charts.PLUGIN_BARMAN_CLOUD, NAMESPACE,
            {"crds": {"create": True}, "resources": {"requests": {"cpu": "50m", "memory": "100Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}}},
            mirrors=args.mirrors, parent=self, provider=args.provider, depends_on=[args.namespace, args.cert_manager, *args.nodes_ready],
        )
        self.register_outputs({"namespace": NAMESPACE})
