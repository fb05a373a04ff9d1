"""The one small interface every cluster component exposes (kubernetes-ts-multicloud style).

Platform and app code take a `ClusterInterface` and import no cloud SDK. Cloud identity for a
workload goes through `WorkloadIdentity`, so the same component code gets IRSA on EKS and a
clear "not available" elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Protocol

import pulumi
import pulumi_kubernetes as k8s

Cloud = Literal["eks", "doks", "existing"]
NodeAutoscaler = Literal["cluster-autoscaler", "provider", "none"]


class WorkloadIdentity(Protocol):
    """How a pod's ServiceAccount gets cloud credentials without static keys."""

    kind: Literal["irsa", "none"]

    def bind(
        self,
        name: str,
        namespace: str,
        service_account: str,
        policy_json: Optional[pulumi.Input[str]] = None,
        managed_policy_arns: tuple[str, ...] = (),
        parent: Optional[pulumi.Resource] = None,
    ) -> Mapping[str, pulumi.Input[str]]:
        """Create the cloud role for `namespace/service_account`; return ServiceAccount annotations."""
        ...


@dataclass(frozen=True)
class NoWorkloadIdentity:
    """Clusters without a pod-identity mechanism: callers fall back to secret keys."""

    kind: Literal["none"] = "none"

    def bind(self, name, namespace, service_account, policy_json=None, managed_policy_arns=(), parent=None):
        raise ValueError(
            f"{name}: this cluster has no workload identity (IRSA exists only on EKS); "
            "use credentials from secret config instead"
        )


@dataclass(frozen=True)
class ClusterInterface:
    provider: k8s.Provider
    name: pulumi.Output[str]
    cloud: Cloud
    region: Optional[str]
    storage_class: str
    identity: WorkloadIdentity
    # A secret; None when an existing cluster is reached through a local kubeconfig context.
    kubeconfig: Optional[pulumi.Output[str]] = None
    # Annotations that make the edge's LoadBalancer Service right for this cloud.
    load_balancer_annotations: Mapping[str, str] = field(default_factory=dict)
    has_metrics_server: bool = False
    node_autoscaler: NodeAutoscaler = "none"
    # The kubelets serve self-signed certificates (a local kind/minikube, by explicit config).
    kubelet_insecure_tls: bool = False
    # What a pod-running object (Helm release, Deployment, StatefulSet, Job) must wait for:
    # nodes, cluster DNS, the storage driver. Plain objects (namespaces, Secrets, policies) only
    # need the API server, so they do not wait and deploy while the nodes come up.
    workloads_ready: tuple[pulumi.Resource, ...] = ()
