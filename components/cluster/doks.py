"""DigitalOcean Kubernetes (the guide's Option B): VPC, cluster, autoscaling node pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_digitalocean as do
import pulumi_kubernetes as k8s

from components.cluster.config import DoksConfig
from components.cluster.interface import ClusterInterface, NoWorkloadIdentity
from components.cluster.kubeconfig import exec_kubeconfig

# DOKS ships this StorageClass (encrypted-at-rest block storage) as the cluster default.
DOKS_STORAGE_CLASS = "do-block-storage"


@dataclass(frozen=True)
class DoksClusterArgs:
    cluster_name: str
    region: str
    config: DoksConfig
    tags: tuple[str, ...]
    protect: bool = False


class DoksCluster(pulumi.ComponentResource):
    interface: ClusterInterface
    cluster_id: pulumi.Output[str]
    version: pulumi.Output[str]

    def __init__(self, name: str, args: DoksClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:DoksCluster", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)

        vpc = do.Vpc(f"{name}-vpc", name=f"{args.cluster_name}-vpc", region=args.region, ip_range=cfg.vpc_cidr, opts=child)
        versions = do.get_kubernetes_versions_output(version_prefix=cfg.version_prefix, opts=pulumi.InvokeOptions(parent=self))

        cluster = do.KubernetesCluster(
            f"{name}-cluster",
            name=args.cluster_name,
            region=args.region,
            version=versions.latest_version,
            vpc_uuid=vpc.id,
            auto_upgrade=True,
            surge_upgrade=True,
            ha=cfg.ha,
            maintenance_policy={"day": cfg.maintenance.day, "start_time": cfg.maintenance.start_time},
            node_pool={
                "name": f"{args.cluster_name}-default",
                "size": cfg.size,
                "auto_scale": True,
                "min_nodes": cfg.nodes.min,
                "max_nodes": cfg.nodes.max,
                "node_count": cfg.nodes.initial,
                "tags": list(args.tags),
            },
            tags=list(args.tags),
            control_plane_firewall=(
                {"enabled": True, "allowed_addresses": list(cfg.api_allowed_cidrs)} if cfg.api_allowed_cidrs else None
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                # The pool autoscaler owns the node count. The version is not ignored: auto-upgrade
                # only moves patches, and the data source already tracks the newest patch of the
                # prefix, so bumping versionPrefix is how a minor upgrade happens.
                ignore_changes=["nodePool.nodeCount"],
            ),
        )

        # doctl mints short-lived tokens on demand; the raw kubeconfig's token expires after 7 days.
        kubeconfig = exec_kubeconfig(
            cluster_name=args.cluster_name,
            endpoint=cluster.endpoint,
            ca_data=cluster.kube_configs.apply(lambda kc: kc[0].cluster_ca_certificate if kc else ""),
            command="doctl",
            exec_args=cluster.id.apply(
                lambda cid: ["kubernetes", "cluster", "kubeconfig", "exec-credential", "--version=v1beta1", cid]
            ),
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            cluster_identifier=f"doks:{args.region}:{args.cluster_name}",
            opts=child,
        )

        self.cluster_id = cluster.id
        self.version = cluster.version
        self.interface = ClusterInterface(
            provider=provider,
            name=cluster.name,
            cloud="doks",
            region=args.region,
            storage_class=DOKS_STORAGE_CLASS,
            identity=NoWorkloadIdentity(),
            kubeconfig=kubeconfig,
            load_balancer_annotations={
                "service.beta.kubernetes.io/do-loadbalancer-name": f"{args.cluster_name}-edge",
                "service.beta.kubernetes.io/do-loadbalancer-size-unit": "1",
                "service.beta.kubernetes.io/do-loadbalancer-disable-lets-encrypt-dns-records": "true",
            },
            # DOKS ships no metrics-server (DigitalOcean documents it as a Marketplace add-on);
            # its node-pool autoscaler owns node counts.
            has_metrics_server=False,
            node_autoscaler="provider",
        )
        self.register_outputs({"clusterId": cluster.id, "version": cluster.version})
