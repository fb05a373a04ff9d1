"""PostgreSQL 15 as a CloudNativePG `Cluster` named `postgres`, with continuous WAL archiving
and daily base backups through the barman-cloud plugin.

- Clients use the `postgres-rw` Service (the primary); `-ro`/`-r` serve reads.
- Prod: 3 instances, one per zone (required anti-affinity on the zone), synchronous
  replication with one standby acknowledging every commit (`dataDurability: required`), so
  losing a node or a zone loses no committed transaction. Elsewhere: 1 instance.
- The operator creates the PodDisruptionBudgets and the instances' ServiceAccount (`postgres`,
  annotated for IRSA on EKS).
- `archive_timeout` bounds the RPO when every instance is lost; the ObjectStore's retention
  policy bounds point-in-time recovery; the daily ScheduledBackup (six-field cron, seconds
  first) takes a base backup at 02:00.
- Prod: the Cluster and ObjectStore are protected and retained on delete; the gp3 class keeps
  the volumes (reclaimPolicy Retain). Recovery always bootstraps a NEW cluster (docs/RESTORE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.config import BackupsConfig, PostgresConfig
from components.app.object_store import BucketAccess
from components.app.placement import Placement
from components.app.quantities import mebibytes
from components.app.workloads import POSTGRES
from components.platform.interface import PostgresOperator
from components.secure_defaults import recommended_labels

CLUSTER_NAME = POSTGRES.name
OBJECT_STORE_NAME = "postgres-backup"
SCHEDULED_BACKUP_NAME = "postgres-daily"
# CNPG schedules have six fields, seconds first: daily at 02:00 (the guide's time).
BASE_BACKUP_SCHEDULE = "0 0 2 * * *"
PLUGIN_NAME = "barman-cloud.cloudnative-pg.io"
CNPG_API = "postgresql.cnpg.io/v1"
BARMAN_API = "barmancloud.cnpg.io/v1"
CLUSTER_LABEL = {"cnpg.io/cluster": CLUSTER_NAME}
METRICS_PORT = 9187
# Key prefix of Postgres backups in the backup bucket (barman adds /<serverName>/).
BACKUP_PREFIX = "postgres"


def backup_configuration(cfg: BackupsConfig, access: BucketAccess) -> dict:
    """`ObjectStore.spec.configuration`: where and how WAL and base backups go."""
    return {
        "destinationPath": access.url(BACKUP_PREFIX),
        **access.barman_endpoint(),
        "s3Credentials": access.barman_credentials(),
        "wal": {"compression": cfg.wal_compression, "maxParallel": 2},
        # An immediate checkpoint starts the 02:00 backup at once instead of after a spread
        # checkpoint (up to 0.9 x checkpoint_timeout); 02:00 is off-peak.
        "data": {"compression": cfg.data_compression, "jobs": 2, "immediateCheckpoint": True},
    }


def archive_timeout(cfg: BackupsConfig) -> str:
    return f"{cfg.archive_timeout_seconds // 60}min" if cfg.archive_timeout_seconds % 60 == 0 else f"{cfg.archive_timeout_seconds}s"


# CNPG sets the Cluster's `Ready` condition once every instance is up.
WAIT_UNTIL_READY = {"pulumi.com/waitFor": "condition=Ready", "pulumi.com/timeoutSeconds": "1800"}


@dataclass(frozen=True)
class PostgresArgs:
    placement: Placement
    config: PostgresConfig
    backups: BackupsConfig
    instances: int
    # basic-auth Secret with the app user's username and password (Pulumi-generated).
    credentials_secret: str
    storage_class: str
    protect: bool
    operator: PostgresOperator
    # None when backups are off (dev only).
    backup_access: Optional[BucketAccess]
    monitoring_crds: Optional[pulumi.Resource] = None
    depends_on: tuple[pulumi.Resource, ...] = ()


class Postgres(pulumi.ComponentResource):
    cluster: k8s.apiextensions.CustomResource
    object_store: Optional[k8s.apiextensions.CustomResource]
    scheduled_backup: Optional[k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: PostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Postgres", name, None, opts)
        placement, cfg = args.placement, args.config
        after_operator = [*args.operator.ready, *args.depends_on]
        kept = {"protect": args.protect, "retain_on_delete": args.protect}
        self.object_store = self.scheduled_backup = None

        spec: dict = {
            "instances": args.instances,
            "imageName": cfg.image.ref,
            "primaryUpdateStrategy": "unsupervised",
            "enableSuperuserAccess": False,
            "storage": {"size": cfg.storage, "storageClass": args.storage_class},
            "resources": cfg.resources.as_spec(),
            "bootstrap": {"initdb": {
                "database": cfg.database, "owner": cfg.user,
                "secret": {"name": args.credentials_secret}, "dataChecksums": True,
            }},
            "postgresql": {"parameters": {
                "max_connections": str(cfg.max_connections),
                # A quarter of the memory limit, the usual starting point.
                "shared_buffers": f"{max(128, mebibytes(cfg.resources.limits.memory) // 4)}MB",
                "archive_timeout": archive_timeout(args.backups),
            }},
            "affinity": {
                "enablePodAntiAffinity": True,
                "topologyKey": "topology.kubernetes.io/zone",
                # Prod has one node group across 3 zones: an instance per zone or it waits.
                "podAntiAffinityType": "required" if args.instances >= 3 else "preferred",
            },
            # Our labels on every object CNPG creates, so the shared selectors keep working.
            "inheritedMetadata": {"labels": POSTGRES.labels()},
        }
        if args.instances > 1:
            spec["postgresql"]["synchronous"] = {"method": "any", "number": 1, "dataDurability": "required"}

        if args.backup_access is not None:
            access = args.backup_access
            if access.credentials.service_account_annotations:
                spec["serviceAccountTemplate"] = {"metadata": {"annotations": dict(access.credentials.service_account_annotations)}}
            spec["plugins"] = [{"name": PLUGIN_NAME, "isWALArchiver": True, "parameters": {"barmanObjectName": OBJECT_STORE_NAME}}]
            self.object_store = k8s.apiextensions.CustomResource(
                f"{name}-object-store",
                api_version=BARMAN_API, kind="ObjectStore",
                metadata=placement.metadata(OBJECT_STORE_NAME, recommended_labels(OBJECT_STORE_NAME, "backup")),
                spec={
                    "configuration": backup_configuration(args.backups, access),
                    "retentionPolicy": f"{args.backups.retention_days}d",
                    "instanceSidecarConfiguration": {
                        "env": access.sdk_env(),
                        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "1000m", "memory": "512Mi"}},
                    },
                },
                opts=placement.opts(self, [*args.operator.plugin_ready, *args.depends_on, *access.depends_on], **kept),
            )
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version=CNPG_API, kind="Cluster",
            # pulumi-kubernetes has no await logic for this CRD: without waitFor the migration Job
            # (which depends on the Cluster) would start before any instance accepts connections.
            metadata=placement.metadata(CLUSTER_NAME, POSTGRES.labels(cfg.image.tag), annotations=WAIT_UNTIL_READY),
            spec=spec,
            # Not after the ObjectStore: the plugin's sidecar retries archiving until it exists.
            opts=placement.opts(self, after_operator,
                                ignore_changes=["spec.bootstrap"], **kept),
        )
        if self.object_store is not None:
            self.scheduled_backup = k8s.apiextensions.CustomResource(
                f"{name}-scheduled-backup",
                api_version=CNPG_API, kind="ScheduledBackup",
                metadata=placement.metadata(SCHEDULED_BACKUP_NAME, recommended_labels(SCHEDULED_BACKUP_NAME, "backup")),
                spec={
                    "schedule": BASE_BACKUP_SCHEDULE,
                    "cluster": {"name": CLUSTER_NAME},
                    "method": "plugin",
                    "pluginConfiguration": {"name": PLUGIN_NAME},
                    "backupOwnerReference": "self",
                    # A first base backup right away: PITR works from the first day.
                    "immediate": True,
                },
                # The immediate backup needs a ready Cluster and the plugin. The ObjectStore goes in
                # seconds after the plugin, long before the Cluster is Ready, so it is not waited for
                # (that would add a serial layer to the deploy).
                opts=placement.opts(self, [self.cluster, *args.operator.plugin_ready]),
            )
        if args.monitoring_crds is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-pod-monitor",
                api_version="monitoring.coreos.com/v1", kind="PodMonitor",
                metadata=placement.metadata(CLUSTER_NAME, recommended_labels(CLUSTER_NAME, "monitoring")),
                spec={"selector": {"matchLabels": CLUSTER_LABEL},
                      "podMetricsEndpoints": [{"port": "metrics", "interval": "30s"}]},
                opts=placement.opts(self, [args.monitoring_crds, self.cluster]),
            )
        self.register_outputs({"cluster": CLUSTER_NAME, "primaryService": f"{CLUSTER_NAME}-rw"})
