"""Pick the cluster component for the stack's `cluster.cloud`."""

from __future__ import annotations

from components.cluster.interface import ClusterInterface
from components.config import StackConfig


def default_tags(cfg: StackConfig) -> dict[str, str]:
    return {"Project": "tradesense", "Environment": cfg.env, "ManagedBy": "pulumi"}


def build_cluster(cfg: StackConfig) -> ClusterInterface:
    cluster = cfg.settings.cluster
    name = cluster.name
    # Cloud SDKs load only for the cloud in use.
    if cluster.cloud == "eks":
        from components.cluster.eks import EksCluster, EksClusterArgs

        args = EksClusterArgs(
            cluster_name=cluster.name,
            region=cluster.region,
            config=cluster.eks,
            nat_per_az=cluster.eks.nat_per_az(cfg.env),
            tags=default_tags(cfg),
            protect=cfg.protect,
        )
        return EksCluster(name, args).interface
    if cluster.cloud == "doks":
        from components.cluster.doks import DoksCluster, DoksClusterArgs

        tags = tuple(f"{k}-{v}".lower() for k, v in default_tags(cfg).items())
        args = DoksClusterArgs(cluster.name, cluster.region, cluster.doks, tags, protect=cfg.protect)
        return DoksCluster(name, args).interface

    from components.cluster.existing import ExistingCluster, ExistingClusterArgs

    args = ExistingClusterArgs(
        name=cluster.name,
        storage_class=cluster.existing.storage_class,
        has_metrics_server=cluster.existing.has_metrics_server,
        kubelet_insecure_tls=cluster.existing.kubelet_insecure_tls,
        context=cluster.existing.context,
        kubeconfig=cfg.secret("kubeconfig"),
    )
    return ExistingCluster(name, args).interface
