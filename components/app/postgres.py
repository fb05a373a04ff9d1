"""PostgreSQL 15 (official image) as a one-replica StatefulSet.

The official Debian image runs as `postgres` (uid/gid 999) when started non-root and then
skips its chown step, so the pod runs as 999 with fsGroup 999 on the volume. PGDATA is a
subdirectory of the mount (a fresh volume's root holds lost+found, which initdb rejects).
/var/run/postgresql (socket), /tmp and /dev/shm (parallel-query shared memory) are emptyDirs,
so the root filesystem stays read-only. The image's STOPSIGNAL is SIGINT (fast shutdown).

Unlike the guide, migrations do not `kubectl exec` into a "postgres deployment": they run
as a Job from the backend image (see migrations.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.app.config import PostgresConfig
from components.app.placement import Placement
from components.app.pods import ContainerSpec, PodSpec, Probes, Scratch, exec_probe
from components.app.quantities import mebibytes
from components.app.secrets import SecretKeyRef, secret_files_volume
from components.app.stateful import StatefulStore, StatefulStoreArgs, data_mount, stateful_store
from components.app.workloads import POSTGRES

POSTGRES_UID = 999
DATA_PATH = "/var/lib/postgresql/data"
CREDENTIALS_DIR = "/etc/postgres-credentials"


@dataclass(frozen=True)
class PostgresArgs:
    placement: Placement
    config: PostgresConfig
    password: SecretKeyRef
    storage_class: str
    retain_data: bool
    depends_on: tuple[pulumi.Resource, ...] = ()


class Postgres(pulumi.ComponentResource):
    store: StatefulStore

    def __init__(self, name: str, args: PostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Postgres", name, None, opts)
        cfg = args.config
        ready = ["pg_isready", "-U", cfg.user, "-d", cfg.database, "-h", "127.0.0.1", "-p", str(POSTGRES.port)]
        # A quarter of the memory limit for shared_buffers, the usual starting point.
        shared_buffers_mb = max(128, mebibytes(cfg.resources.limits.memory) // 4)
        container = ContainerSpec(
            name="postgres",
            image=cfg.image.ref,
            resources=cfg.resources,
            run_as_user=POSTGRES_UID,
            port=POSTGRES.port,
            port_name="postgres",
            args=("postgres", "-c", f"shared_buffers={shared_buffers_mb}MB", "-c", f"max_connections={cfg.max_connections}"),
            env=(
                {"name": "POSTGRES_USER", "value": cfg.user},
                {"name": "POSTGRES_DB", "value": cfg.database},
                # The entrypoint reads *_FILE variables: the password never sits in the environment.
                {"name": "POSTGRES_PASSWORD_FILE", "value": f"{CREDENTIALS_DIR}/{args.password.key}"},
                {"name": "PGDATA", "value": f"{DATA_PATH}/pgdata"},
                # Detect silent disk corruption (only takes effect at initdb).
                {"name": "POSTGRES_INITDB_ARGS", "value": "--data-checksums"},
            ),
            scratch=(
                Scratch("run", "/var/run/postgresql", "16Mi"),
                Scratch("tmp", "/tmp", "1Gi"),
                Scratch("shm", "/dev/shm", "256Mi", in_memory=True),
            ),
            mounts=(data_mount(DATA_PATH), {"name": "credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True}),
            # Public image pinned by tag (and digest when set): a registry outage or rate limit
            # must not stop the database from restarting on a node that has the image.
            always_pull=False,
            probes=Probes(
                # initdb on first start and crash recovery can take minutes.
                startup=exec_probe(ready, period=10, failure_threshold=60),
                readiness=exec_probe(ready, period=10, failure_threshold=3),
                liveness=exec_probe(ready, period=20, failure_threshold=6),
            ),
        )
        pod = PodSpec(
            workload=POSTGRES,
            version=cfg.image.tag,
            containers=(container,),
            run_as_user=POSTGRES_UID,
            fs_group=POSTGRES_UID,
            volumes=(secret_files_volume("credentials", args.password),),
            # Time for a fast shutdown and checkpoint before SIGKILL.
            shutdown_seconds=60,
        )
        self.store = stateful_store(
            name,
            self,
            StatefulStoreArgs(
                workload=POSTGRES,
                placement=args.placement,
                pod=pod,
                storage=cfg.storage,
                storage_class=args.storage_class,
                retain_data=args.retain_data,
                depends_on=args.depends_on,
            ),
        )
        self.register_outputs({"service": POSTGRES.name, "port": POSTGRES.port})
