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
    # The nodes alone (a subset of workloads_ready): for a controller that needs neither cluster
    # DNS nor volumes to start, so it installs while the add-ons converge.
    nodes_ready: tuple[pulumi.Resource, ...] = ()
    # Backup and uploads buckets; None when backups are off (dev only).
    object_storage: Optional["ObjectStorage"] = None


# --- Object storage (backups, uploads) -------------------------------------------------------

StorageKind = Literal["s3", "spaces", "endpoint"]


@dataclass(frozen=True)
class StorageGrant:
    """What one workload may do: read (and write, unless read_only) under prefixes of a bucket."""

    # Short role name, e.g. "postgres", "redis-backup"; names the cloud role/key.
    role: str
    namespace: str
    service_account: str
    # bucket name (see ObjectStorage.buckets) -> key prefixes ("" = the whole bucket).
    prefixes: Mapping[str, tuple[str, ...]]
    read_only: bool = False
    # Buckets this grant only reads even when it writes elsewhere (uploads-backup reads uploads).
    read_only_buckets: tuple[str, ...] = ()

    def reads_only(self, bucket: str) -> bool:
        return self.read_only or bucket in self.read_only_buckets


@dataclass(frozen=True)
class StorageCredentials:
    """How a pod authenticates to the object store.

    Workload identity: ServiceAccount annotations and no keys (IRSA on EKS). Otherwise: an
    access key pair as Pulumi secrets, which the app layer puts into a Kubernetes Secret.
    """

    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    access_key_id: Optional[pulumi.Output[str]] = None
    secret_access_key: Optional[pulumi.Output[str]] = None

    @property
    def uses_workload_identity(self) -> bool:
        return self.access_key_id is None


class ObjectStorage(Protocol):
    """A cloud-neutral S3 API: AWS S3 (EKS), DigitalOcean Spaces (DOKS) or a dev endpoint."""

    kind: StorageKind
    # Logical name ("backup", "uploads") -> bucket name.
    buckets: Mapping[str, pulumi.Output[str]]
    # None for AWS S3 (the SDK's regional default); the S3 API URL otherwise.
    endpoint: Optional[str]
    region: str
    # Egress the pods need to reach the store: CIDRs (None = public internet) and port.
    endpoint_port: int

    def grant(self, grant: StorageGrant, parent: Optional[pulumi.Resource] = None) -> StorageCredentials:
        """Credentials scoped to `grant`, for pods running as its ServiceAccount."""
        ...
