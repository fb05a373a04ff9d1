"""TradeSense workloads on any cluster: wires secrets, data stores, migrations, backend,
frontend, routing and network policies together, in the order a rollout needs.

Takes only the cluster and platform interfaces; imports no cloud SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.backend import Backend, BackendArgs
from components.app.backups import BackupJobs, BackupJobsArgs
from components.app.object_store import bucket_access
from components.app.config import AppConfig
from components.app.frontend import Frontend, FrontendArgs
from components.app.migrations import Migrations, MigrationsArgs
from components.app.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.app.observability import Observability, ObservabilityArgs
from components.app.placement import Placement
from components.app.postgres import Postgres, PostgresArgs
from components.app.redis import Redis, RedisArgs
from components.app.routing import Routing, RoutingArgs
from components.app.secrets import CONFIG_SECRET_ENV, POSTGRES_SECRET, AppSecrets, AppSecretsArgs
from components.app.workloads import BACKEND, POSTGRES, POSTGRES_RW, REDIS, service_host
from components.cluster.interface import ObjectStorage, StorageGrant
from components.config_base import Environment
from components.app import redis_exporter
from components.app.images import mirrored
from components.platform.interface import PlatformInterface

if TYPE_CHECKING:
    from components.cluster.interface import ClusterInterface
    from components.config import StackConfig


@dataclass(frozen=True)
class TradeSenseAppArgs:
    settings: AppConfig
    environment: Environment
    # Prod: stateful volumes and generated credentials survive stack deletion.
    protect: bool
    # Backend env var -> secret config value (None if unset).
    config_secrets: Mapping[str, Optional[pulumi.Output[str]]]
    provider: k8s.Provider
    storage_class: str
    platform: PlatformInterface
    # ClusterInterface.workloads_ready: what pod-running objects wait for.
    workloads_ready: tuple[pulumi.Resource, ...] = ()
    # Backup and uploads buckets; None when backups are off (dev only).
    object_storage: Optional[ObjectStorage] = None


class TradeSenseApp(pulumi.ComponentResource):
    url: pulumi.Output[str]
    api_url: pulumi.Output[str]

    def __init__(self, name: str, args: TradeSenseAppArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:TradeSenseApp", name, None, opts)
        platform = args.platform
        settings = mirrored(args.settings, platform.mirrors)
        namespace = platform.app_namespace
        namespace_resource = platform.namespaces.get(namespace)
        placement = Placement(
            namespace=namespace,
            provider=args.provider,
            prerequisites=((namespace_resource,) if namespace_resource is not None else ()) + tuple(platform.app_prerequisites),
            workloads_ready=args.workloads_ready,
        )
        child = pulumi.ResourceOptions(parent=self)
        apex, www = platform.hostnames[0], platform.hostnames[1]

        # Policies first: the migration Job must already be allowed to reach Postgres when it starts.
        network = NetworkPolicies(f"{name}-network-policies", NetworkPoliciesArgs(
            placement=placement,
            edge_namespace=platform.edge.namespace,
            edge_pod_labels=platform.edge.pod_labels,
            prometheus_namespace=platform.monitoring_namespace,
            prometheus_pod_labels=platform.prometheus_pod_labels,
            postgres_operator=platform.postgres_operator,
            object_store_port=args.object_storage.endpoint_port if args.object_storage else None,
        ), child)
        secrets = AppSecrets(f"{name}-secrets", AppSecretsArgs(
            placement=placement,
            database=settings.postgres.database,
            database_user=settings.postgres.user,
            database_host=service_host(POSTGRES_RW, namespace),
            database_port=POSTGRES_RW.port,
            redis_host=service_host(REDIS, namespace),
            redis_port=REDIS.port,
            config_secrets=args.config_secrets,
            protect=args.protect,
        ), child)
        baseline = (*network.policies, *secrets.secrets)

        storage = args.object_storage
        assert platform.postgres_operator is not None, "the platform installs CloudNativePG"
        postgres_access = bucket_access(
            f"{name}-postgres", storage,
            StorageGrant("postgres", namespace, POSTGRES.name, {"backup": ("postgres/",)}), placement, self,
        ) if storage is not None else None
        postgres = Postgres(f"{name}-postgres", PostgresArgs(
            placement=placement,
            config=settings.postgres,
            backups=settings.backups,
            instances=settings.postgres.instance_count(args.environment),
            credentials_secret=POSTGRES_SECRET,
            storage_class=args.storage_class,
            protect=args.protect,
            operator=platform.postgres_operator,
            backup_access=postgres_access,
            monitoring_crds=platform.monitoring_crds,
            depends_on=baseline,
        ), child)
        redis = Redis(f"{name}-redis", RedisArgs(
            placement=placement,
            config=settings.redis,
            password=secrets.redis_password,
            exporter_image=platform.mirrors.image(redis_exporter.IMAGE),
            auth_file=secrets.redis_auth_file,
            storage_class=args.storage_class,
            retain_data=args.protect,
            depends_on=baseline,
        ), child)
        migrations = Migrations(f"{name}-migrations", MigrationsArgs(
            placement=placement,
            backend=settings.backend,
            config=settings.migrations,
            database_url=secrets.database_url,
            depends_on=(*baseline, postgres.cluster),
        ), child)
        # Uploaded files live in the uploads bucket; the backend reads and writes all of it.
        uploads = bucket_access(
            f"{name}-backend-uploads", storage,
            StorageGrant("backend-uploads", namespace, BACKEND.name, {"uploads": ("",)}), placement, self,
        ) if storage is not None else None
        backend = Backend(f"{name}-backend", BackendArgs(
            placement=placement,
            config=settings.backend,
            environment=args.environment,
            log_level=settings.log_level,
            cors_origins=(f"https://{apex}", f"https://{www}"),
            secret_env=secrets.backend_env,
            uploads_env=((({"name": "UPLOADS_BUCKET", "value": uploads.bucket("uploads")}, *uploads.job_env()))
                         if uploads is not None else ()),
            account_annotations=uploads.credentials.service_account_annotations if uploads is not None else None,
            # Roll out only after the schema is migrated and the data stores are up.
            depends_on=(*baseline, migrations.job, redis.store.stateful_set),
        ), child)
        frontend = Frontend(f"{name}-frontend", FrontendArgs(
            placement=placement,
            config=settings.frontend,
            api_base_url=f"https://{platform.api_hostname}",
            internal_api_base_url=f"http://{service_host(BACKEND, namespace)}:{BACKEND.port}",
            stripe_publishable_key=settings.stripe_publishable_key,
            depends_on=baseline,
        ), child)
        Routing(f"{name}-routing", RoutingArgs(
            placement=placement,
            edge=platform.edge,
            apex_hostname=apex,
            www_hostname=www,
            api_hostname=platform.api_hostname,
            all_hostnames=tuple(platform.hostnames),
            tls_secret_name=platform.tls_secret_name,
            tls_secret_namespace=platform.tls_secret_namespace,
            depends_on=(backend.workload.service, frontend.workload.service),
        ), child)

        BackupJobs(f"{name}-backups", BackupJobsArgs(
            placement=placement,
            image=settings.backups.job_image.ref,
            backups=settings.backups,
            postgres=settings.postgres,
            postgres_credentials=POSTGRES_SECRET,
            redis_password=secrets.redis_password,
            storage=storage,
            depends_on=(*baseline, postgres.cluster),
        ), child)

        Observability(f"{name}-observability", ObservabilityArgs(
            placement=placement,
            monitoring_crds=platform.monitoring_crds,
            monitoring_labels=platform.monitoring_labels,
            dashboard_label=platform.dashboard_label,
            postgres_instances=settings.postgres.instance_count(args.environment),
            depends_on=(backend.workload.service,),
        ), child)

        self.url = pulumi.Output.from_input(f"https://{apex}")
        self.api_url = pulumi.Output.from_input(f"https://{platform.api_hostname}")
        self.register_outputs({"url": self.url, "apiUrl": self.api_url})


def build_app(cfg: "StackConfig", cluster: "ClusterInterface", platform: PlatformInterface) -> TradeSenseApp:
    """The app for this stack, on `cluster`, behind `platform`'s edge."""
    return TradeSenseApp("tradesense", TradeSenseAppArgs(
        settings=cfg.settings.app,
        environment=cfg.env,
        protect=cfg.protect,
        config_secrets={env: cfg.secret(key) for env, key in CONFIG_SECRET_ENV.items()},
        provider=cluster.provider,
        storage_class=cluster.storage_class,
        workloads_ready=cluster.workloads_ready,
        platform=platform,
        object_storage=cluster.object_storage,
    ))
