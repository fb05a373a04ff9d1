"""Database migrations as a Job from the backend image, run before the backend rolls out.

The Job's name carries a hash of the image and command: a new backend image means a new Job
(Pulumi creates it, waits, then deletes the old one), an unchanged image means no re-run.
The backend Deployment depends on the Job, and pulumi-kubernetes awaits Jobs: the update
waits for the `Complete` condition and fails as soon as the Job reports `Failed` (backoff
limit or deadline reached), so a failed migration stops the rollout with the old backend
still serving.

No ttlSecondsAfterFinished: a TTL-deleted Job vanishes from the cluster while Pulumi's state
still holds it, so the next `pulumi refresh`/`up --refresh` drops it and recreates it,
re-running the migration outside a release. Pulumi already bounds history to one Job (the
previous one is deleted when the name changes), and the finished pod keeps its logs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.config import BackendConfig, MigrationsConfig
from components.app.placement import Placement
from components.app.pods import ContainerSpec, PodSpec, Scratch, pod_template, service_account
from components.app.secrets import SecretKeyRef
from components.app.workloads import MIGRATIONS

# Extra time Pulumi waits beyond the Job's own deadline (image pull, scheduling), so the Job
# reports DeadlineExceeded itself rather than Pulumi timing out first.
AWAIT_MARGIN_SECONDS = 300


def job_name(image: str, command: list[str]) -> str:
    digest = hashlib.sha256(json.dumps([image, command]).encode()).hexdigest()[:10]
    return f"{MIGRATIONS.name}-{digest}"


@dataclass(frozen=True)
class MigrationsArgs:
    placement: Placement
    backend: BackendConfig
    config: MigrationsConfig
    database_url: SecretKeyRef
    depends_on: tuple[pulumi.Resource, ...] = ()


class Migrations(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: MigrationsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Migrations", name, None, opts)
        placement, cfg = args.placement, args.config
        image = args.backend.image.ref
        account = service_account(name, MIGRATIONS, placement, self)
        container = ContainerSpec(
            name="migrate",
            image=image,
            resources=cfg.resources,
            run_as_user=args.backend.run_as_user,
            command=tuple(cfg.command),
            env=(args.database_url.env("DATABASE_URL"),),
            scratch=(Scratch("tmp", "/tmp", "256Mi"),),
        )
        pod = PodSpec(
            workload=MIGRATIONS,
            version=args.backend.image.tag,
            containers=(container,),
            run_as_user=args.backend.run_as_user,
            restart_policy="Never",
        )
        name_in_cluster = job_name(image, cfg.command)
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=placement.metadata(
                name_in_cluster,
                MIGRATIONS.labels(args.backend.image.tag),
                # A Job that failed on an earlier `up` is replaced (re-run) instead of re-awaited.
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            spec={
                "backoffLimit": cfg.backoff_limit,
                "activeDeadlineSeconds": cfg.timeout_seconds,
                # Node drains and preemption do not count as migration failures.
                "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
                "template": pod_template(pod),
            },
            opts=placement.opts(
                self,
                [account, *args.depends_on],
                runs_pods=True,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{cfg.timeout_seconds + AWAIT_MARGIN_SECONDS}s"),
            ),
        )
        self.register_outputs({"jobName": name_in_cluster})
