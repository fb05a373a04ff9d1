"""Backup, restore-drill and maintenance CronJobs, running the scripts in ops/.

The scripts are mounted from one ConfigMap built from the ops/*.sh files themselves (no inline
copies); the image (ops/Dockerfile) carries exactly the tools they call. Every job: Forbid
concurrency, a deadline, a backoff limit, bounded history, a PSS-restricted pod with requests
and limits, and its own ServiceAccount (IRSA-annotated on EKS, scoped to its prefixes).
Outcomes surface through kube-state-metrics (`kube_cronjob_status_last_successful_time`,
`kube_job_status_failed`), which sees CronJobs and Jobs in every namespace by default.

  redis-backup     0 */6 * * *   BGSAVE, upload dump.rdb under a timestamped key, move LATEST
  uploads-backup   0 4 * * *     sync uploads into the versioned backup bucket + a daily manifest
  restore-drill    0 5 * * 0     restore the latest Postgres backup + WAL and Redis snapshot, check them
  postgres-vacuum  0 3 * * 0     VACUUM (ANALYZE) on postgres-rw
  postgres-reindex 30 3 1 * *    REINDEX DATABASE CONCURRENTLY on postgres-rw
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.config import BackupsConfig, Compute, PostgresConfig, Resources
from components.app.object_store import bucket_access
from components.app.placement import Placement
from components.app.pods import ContainerSpec, PodSpec, Scratch, pod_template
from components.app.postgres import BACKUP_PREFIX, CLUSTER_NAME
from components.app.secrets import SecretKeyRef
from components.app.workloads import (
    POSTGRES_REINDEX, POSTGRES_RW, POSTGRES_VACUUM, REDIS, REDIS_BACKUP, RESTORE_DRILL, UPLOADS_BACKUP, Workload,
    service_host,
)
from components.cluster.interface import ObjectStorage, StorageGrant
from components.secure_defaults import recommended_labels, service_account_settings

OPS_DIR = Path(__file__).resolve().parent.parent.parent / "ops"
SCRIPTS_CONFIGMAP = "ops-scripts"
SCRIPTS_PATH = "/opt/ops"
# The job image's user (ops/Dockerfile).
JOB_UID = 10001
SCHEDULES = {
    REDIS_BACKUP.name: "0 */6 * * *",
    UPLOADS_BACKUP.name: "0 4 * * *",
    RESTORE_DRILL.name: "0 5 * * 0",
    POSTGRES_VACUUM.name: "0 3 * * 0",
    POSTGRES_REINDEX.name: "30 3 1 * *",
}


def ops_scripts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(OPS_DIR.glob("*.sh"))}


@dataclass(frozen=True)
class Job:
    workload: Workload
    script: str
    args: tuple[str, ...]
    env: tuple[dict, ...]
    deadline_seconds: int
    resources: Resources
    scratch_size: str = "1Gi"
    annotations: Optional[dict] = None


@dataclass(frozen=True)
class BackupJobsArgs:
    placement: Placement
    image: str
    backups: BackupsConfig
    postgres: PostgresConfig
    postgres_credentials: str
    redis_password: SecretKeyRef
    # None when backups are off: only the maintenance jobs run.
    storage: Optional[ObjectStorage]
    depends_on: tuple[pulumi.Resource, ...] = ()


def _resources(req_cpu: str, req_mem: str, lim_cpu: str, lim_mem: str) -> Resources:
    return Resources(requests=Compute(cpu=req_cpu, memory=req_mem), limits=Compute(cpu=lim_cpu, memory=lim_mem))


class BackupJobs(pulumi.ComponentResource):
    cron_jobs: dict[str, k8s.batch.v1.CronJob]

    def __init__(self, name: str, args: BackupJobsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:BackupJobs", name, None, opts)
        placement, ns = args.placement, args.placement.namespace
        scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=placement.metadata(SCRIPTS_CONFIGMAP, recommended_labels(SCRIPTS_CONFIGMAP, "backup")),
            data=ops_scripts(),
            opts=placement.opts(self),
        )
        pg = args.postgres
        libpq = (
            {"name": "PGHOST", "value": service_host(POSTGRES_RW, ns)},
            {"name": "PGPORT", "value": str(POSTGRES_RW.port)},
            {"name": "PGDATABASE", "value": pg.database},
            SecretKeyRef(args.postgres_credentials, "username").env("PGUSER"),
            SecretKeyRef(args.postgres_credentials, "password").env("PGPASSWORD"),
            # CNPG serves TLS with its own CA; require encryption on the wire.
            {"name": "PGSSLMODE", "value": "require"},
        )
        small = _resources("50m", "64Mi", "500m", "256Mi")
        jobs = [
            Job(POSTGRES_VACUUM, "postgres-maintenance.sh", ("vacuum",), libpq, 4 * 3600, small),
            Job(POSTGRES_REINDEX, "postgres-maintenance.sh", ("reindex",), libpq, 6 * 3600, small),
        ]
        if args.storage is not None:
            grants = {
                REDIS_BACKUP.name: StorageGrant("redis-backup", ns, REDIS_BACKUP.name, {"backup": ("redis/",)}),
                UPLOADS_BACKUP.name: StorageGrant("uploads-backup", ns, UPLOADS_BACKUP.name,
                                                  {"backup": ("uploads/",), "uploads": ("",)}, read_only_buckets=("uploads",)),
                RESTORE_DRILL.name: StorageGrant("restore-drill", ns, RESTORE_DRILL.name,
                                                 {"backup": (f"{BACKUP_PREFIX}/", "redis/", "uploads/")}, read_only=True),
            }
            access = {job: bucket_access(f"{name}-{job}", args.storage, grant, placement, self) for job, grant in grants.items()}
            bucket = lambda a: {"name": "BACKUP_BUCKET", "value": a.bucket()}  # noqa: E731
            jobs += [
                Job(REDIS_BACKUP, "redis-backup.sh", (), (
                    {"name": "REDIS_HOST", "value": service_host(REDIS, ns)},
                    {"name": "REDIS_PORT", "value": str(REDIS.port)},
                    args.redis_password.env("REDISCLI_AUTH"),
                    bucket(access[REDIS_BACKUP.name]), *access[REDIS_BACKUP.name].job_env(),
                ), 3600, _resources("100m", "128Mi", "500m", "512Mi"), scratch_size="4Gi",
                    annotations=access[REDIS_BACKUP.name].credentials.service_account_annotations),
                Job(UPLOADS_BACKUP, "uploads-backup.sh", (), (
                    {"name": "UPLOADS_BUCKET", "value": access[UPLOADS_BACKUP.name].bucket("uploads")},
                    bucket(access[UPLOADS_BACKUP.name]), *access[UPLOADS_BACKUP.name].job_env(),
                ), 4 * 3600, _resources("100m", "128Mi", "1000m", "512Mi"),
                    annotations=access[UPLOADS_BACKUP.name].credentials.service_account_annotations),
                Job(RESTORE_DRILL, "restore-drill.sh", (), (
                    {"name": "BARMAN_DESTINATION", "value": access[RESTORE_DRILL.name].url(BACKUP_PREFIX)},
                    {"name": "BARMAN_SERVER_NAME", "value": CLUSTER_NAME},
                    {"name": "DRILL_DATABASE", "value": pg.database},
                    {"name": "DRILL_TABLES", "value": " ".join(args.backups.drill.tables)},
                    {"name": "DRILL_MAX_AGE_SECONDS", "value": str(args.backups.drill.max_age_hours * 3600)},
                    {"name": "DRILL_REDIS", "value": "true"},
                    # A sample of the uploads backup, checksums compared (ops/uploads-drill.sh).
                    {"name": "DRILL_UPLOADS", "value": "true"},
                    bucket(access[RESTORE_DRILL.name]), *access[RESTORE_DRILL.name].job_env(),
                ), 6 * 3600, _resources("500m", "1Gi", "2000m", "2Gi"),
                    # The restored database lives in the pod's scratch volume.
                    scratch_size=_double(pg.storage),
                    annotations=access[RESTORE_DRILL.name].credentials.service_account_annotations),
            ]
            self.access = access
        self.cron_jobs = {job.workload.name: self._cron_job(name, job, placement, args, scripts) for job in jobs}
        self.register_outputs({"cronJobs": sorted(self.cron_jobs)})

    def _cron_job(self, name: str, job: Job, placement: Placement, args: BackupJobsArgs, scripts) -> k8s.batch.v1.CronJob:
        w = job.workload
        account = k8s.core.v1.ServiceAccount(
            f"{name}-{w.name}-service-account",
            metadata=placement.metadata(w.name, w.labels(), annotations=job.annotations or None),
            automount_service_account_token=service_account_settings()["automountServiceAccountToken"],
            opts=placement.opts(self),
        )
        container = ContainerSpec(
            name=w.name, image=args.image, resources=job.resources, run_as_user=JOB_UID,
            command=(f"{SCRIPTS_PATH}/{job.script}", *job.args),
            env=(*job.env, {"name": "WORK_DIR", "value": "/tmp"}),
            scratch=(Scratch("tmp", "/tmp", job.scratch_size),),
            mounts=({"name": "scripts", "mountPath": SCRIPTS_PATH, "readOnly": True},),
        )
        pod = PodSpec(
            workload=w, version=None, containers=(container,), run_as_user=JOB_UID, fs_group=JOB_UID,
            volumes=({"name": "scripts", "configMap": {"name": SCRIPTS_CONFIGMAP, "defaultMode": 0o555}},),
            restart_policy="Never",
        )
        return k8s.batch.v1.CronJob(
            f"{name}-{w.name}",
            metadata=placement.metadata(w.name, w.labels()),
            spec={
                "schedule": SCHEDULES[w.name],
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                # A run missed by more than an hour (cluster down) is skipped, not stacked.
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": w.labels()},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": job.deadline_seconds,
                        # Finished Jobs are kept for the history limits, then removed.
                        "ttlSecondsAfterFinished": 7 * 24 * 3600,
                        "template": pod_template(pod),
                    },
                },
            },
            opts=placement.opts(self, [account, scripts, *args.depends_on]),
        )


def _double(quantity: str) -> str:
    number = "".join(c for c in quantity if c.isdigit())
    return f"{int(number) * 2}{quantity[len(number):]}"
