"""The platform's namespaces, each with the strictest Pod Security level its workloads allow.

- tradesense, monitoring, cert-manager, the edge namespace and autoscaling: `restricted`.
  Their charts run non-root, seccomp RuntimeDefault, no privilege escalation, all capabilities
  dropped. Where a chart exposes the contexts (cert-manager, the Prometheus operator,
  Prometheus, Alertmanager, Grafana, metrics-server, cluster-autoscaler) this package sets them
  explicitly; NGINX Gateway Fabric (>= 2.6.1; 2.6.0 had a regression) and kube-state-metrics
  comply by default. ingress-nginx binds 80/443 through the `net.ipv4.ip_unprivileged_port_start`
  sysctl, which `restricted` allows, instead of privilege escalation.
- node-exporter: `privileged`. It reads the host's /proc and /sys through hostPath with
  hostNetwork and hostPID, which `baseline` already forbids, so kube-prometheus-stack is told to
  put it in its own namespace instead of lowering `monitoring` for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.secure_defaults import psa_labels

RESTRICTED = "restricted"
PRIVILEGED = "privileged"


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    psa_level: str
    purpose: str
    # Holds volumes (databases, Prometheus): protected in prod, since deleting it deletes them.
    stateful: bool = False
    # More labels (e.g. the one a Gateway listener's allowedRoutes selects on).
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlatformNamespacesArgs:
    namespaces: tuple[NamespaceSpec, ...]
    provider: k8s.Provider
    protect: bool = False


class PlatformNamespaces(pulumi.ComponentResource):
    by_name: Mapping[str, k8s.core.v1.Namespace]

    def __init__(self, name: str, args: PlatformNamespacesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:Namespaces", name, None, opts)
        created = {}
        for spec in args.namespaces:
            created[spec.name] = k8s.core.v1.Namespace(
                f"{name}-{spec.name}",
                metadata={
                    "name": spec.name,
                    "labels": {**spec.labels, **psa_labels(spec.psa_level), "app.kubernetes.io/part-of": "tradesense"},
                    "annotations": {"tradesense.io/purpose": spec.purpose},
                },
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, protect=args.protect and spec.stateful),
            )
        self.by_name = created
        self.register_outputs({"namespaces": [ns.metadata["name"] for ns in created.values()]})
