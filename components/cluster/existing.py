"""Adopt an existing cluster (kind or minikube for local work): no cloud resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.interface import ClusterInterface, NoWorkloadIdentity


@dataclass(frozen=True)
class ExistingClusterArgs:
    name: str
    storage_class: str
    has_metrics_server: bool
    kubelet_insecure_tls: bool = False
    context: Optional[str] = None
    kubeconfig: Optional[pulumi.Output[str]] = None


class ExistingCluster(pulumi.ComponentResource):
    interface: ClusterInterface

    def __init__(self, name: str, args: ExistingClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:ExistingCluster", name, None, opts)
        kubeconfig = pulumi.Output.secret(args.kubeconfig) if args.kubeconfig is not None else None
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=args.context,
            # Identity is the cluster, not the credentials: rotating a kubeconfig updates in place.
            cluster_identifier=f"existing:{args.name}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.interface = ClusterInterface(
            provider=provider,
            name=pulumi.Output.from_input(args.name),
            cloud="existing",
            region=None,
            storage_class=args.storage_class,
            identity=NoWorkloadIdentity(),
            kubeconfig=kubeconfig,
            has_metrics_server=args.has_metrics_server,
            kubelet_insecure_tls=args.kubelet_insecure_tls,
            node_autoscaler="none",
        )
        self.register_outputs({"name": args.name})
