"""Redis 7 (official image) as a one-replica StatefulSet with AOF persistence and a password.

redis.conf lives in a ConfigMap and `include`s the `requirepass` line from a Secret, so the
password is neither in the ConfigMap nor on the command line. The official image runs as
`redis` (uid/gid 999) and skips its chown step when started non-root; only /data is written.
Probes authenticate with the password file from the same Secret (no secret in the env).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app import redis_exporter
from components.app.config import RedisConfig
from components.app.placement import Placement
from components.app.pods import ContainerSpec, PodSpec, Probes, Scratch, exec_probe
from components.app.quantities import mebibytes
from components.app.secrets import SecretKeyRef, secret_files_volume
from components.app.stateful import StatefulStore, StatefulStoreArgs, data_mount, stateful_store
from components.app.workloads import REDIS

REDIS_UID = 999
CONFIG_DIR = "/etc/redis"
AUTH_DIR = "/etc/redis-auth"
DATA_PATH = "/data"


def redis_conf(cfg: RedisConfig, auth_file: str) -> str:
    # Leave a quarter of the memory limit for fork-time copy-on-write (AOF rewrite, RDB save)
    # and client buffers, so Redis evicts keys before the kernel kills it.
    maxmemory_mb = mebibytes(cfg.resources.limits.memory) * 3 // 4
    return "\n".join([
        "bind * -::*",
        f"port {REDIS.port}",
        "protected-mode yes",
        f"dir {DATA_PATH}",
        "appendonly yes",
        "appendfsync everysec",
        f"maxmemory {maxmemory_mb}mb",
        f"maxmemory-policy {cfg.maxmemory_policy}",
        f"include {AUTH_DIR}/{auth_file}",
        "",
    ])


@dataclass(frozen=True)
class RedisArgs:
    placement: Placement
    config: RedisConfig
    password: SecretKeyRef
    # redis_exporter.IMAGE, through the stack's image mirror.
    exporter_image: str
    auth_file: SecretKeyRef
    storage_class: str
    retain_data: bool
    depends_on: tuple[pulumi.Resource, ...] = ()


class Redis(pulumi.ComponentResource):
    store: StatefulStore
    config_map: k8s.core.v1.ConfigMap

    def __init__(self, name: str, args: RedisArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:Redis", name, None, opts)
        cfg, placement = args.config, args.placement
        conf = redis_conf(cfg, args.auth_file.key)
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=placement.metadata("redis-config", REDIS.labels()),
            data={"redis.conf": conf},
            opts=placement.opts(self),
        )
        ping = ["sh", "-c", f'REDISCLI_AUTH="$(cat {AUTH_DIR}/{args.password.key})" '
                f"redis-cli -h 127.0.0.1 -p {REDIS.port} ping | grep -q PONG"]
        container = ContainerSpec(
            name="redis",
            image=cfg.image.ref,
            resources=cfg.resources,
            run_as_user=REDIS_UID,
            port=REDIS.port,
            port_name="redis",
            args=("redis-server", f"{CONFIG_DIR}/redis.conf"),
            scratch=(Scratch("tmp", "/tmp", "64Mi"),),
            mounts=(
                data_mount(DATA_PATH),
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
            ),
            # Public image pinned by tag (and digest when set): see postgres.py.
            always_pull=False,
            probes=Probes(
                # Replaying a large AOF answers LOADING until done.
                startup=exec_probe(ping, period=5, failure_threshold=120),
                readiness=exec_probe(ping, period=10, failure_threshold=3),
                liveness=exec_probe(ping, period=15, failure_threshold=4),
            ),
        )
        pod = PodSpec(
            workload=REDIS,
            version=cfg.image.tag,
            # The metrics sidecar (components/app/redis_exporter.py) reads the same password.
            containers=(container, redis_exporter.sidecar(args.password, args.exporter_image)),
            run_as_user=REDIS_UID,
            fs_group=REDIS_UID,
            volumes=(
                {"name": "config", "configMap": {"name": "redis-config"}},
                secret_files_volume("auth", args.auth_file, args.password),
            ),
            # redis.conf is read at start only: roll the pod when it changes.
            annotations={"checksum/redis-conf": hashlib.sha256(conf.encode()).hexdigest()},
        )
        self.store = stateful_store(
            name,
            self,
            StatefulStoreArgs(
                workload=REDIS,
                placement=placement,
                pod=pod,
                storage=cfg.storage,
                storage_class=args.storage_class,
                retain_data=args.retain_data,
                depends_on=(self.config_map, *args.depends_on),
            ),
        )
        self.register_outputs({"service": REDIS.name, "port": REDIS.port})
