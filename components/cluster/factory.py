"""Pick the cluster component for the stack's `cluster.cloud`."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pulumi

from components.cluster.interface import ClusterInterface, ObjectStorage
from components.config import StackConfig


def default_tags(cfg: StackConfig) -> dict[str, str]:
    return {"Project": "tradesense", "Environment": cfg.env, "ManagedBy": "pulumi"}


def build_cluster(cfg: StackConfig) -> ClusterInterface:
    """The stack's cluster with its object storage (buckets for backups and uploads)."""
    cluster = _cluster(cfg)
    return dataclasses.replace(cluster, object_storage=build_object_storage(cfg, cluster))


def build_object_storage(cfg: StackConfig, cluster: ClusterInterface) -> Optional[ObjectStorage]:
    backups = cfg.settings.app.backups
    if not backups.enabled:
        return None
    prefix = cfg.settings.cluster.name
    if cluster.cloud == "eks":
        from components.cluster.eks_identity import IrsaIdentity
        from components.cluster.s3_storage import S3ObjectStorage, S3StorageArgs

        assert isinstance(cluster.identity, IrsaIdentity)
        return S3ObjectStorage(f"{prefix}-storage", S3StorageArgs(
            bucket_prefix=prefix, region=cluster.region or "", identity=cluster.identity,
            retention_days=backups.retention_days, protect=cfg.protect))
    if cluster.cloud == "doks":
        from components.cluster.spaces_storage import SpacesObjectStorage, SpacesStorageArgs

        return SpacesObjectStorage(f"{prefix}-storage", SpacesStorageArgs(
            bucket_prefix=prefix, region=cluster.region or "", retention_days=backups.retention_days, protect=cfg.protect))
    from components.cluster.endpoint_storage import EndpointObjectStorage

    return EndpointObjectStorage(
        endpoint=backups.endpoint or "", region=backups.region,
        buckets={"backup": pulumi.Output.from_input(backups.bucket or ""),
                 "uploads": pulumi.Output.from_input(backups.uploads_bucket or "")},
        access_key_id=cfg.secret("backupAccessKeyId"), secret_access_key=cfg.secret("backupSecretAccessKey"))


def _cluster(cfg: StackConfig) -> ClusterInterface:
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
