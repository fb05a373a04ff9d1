"""`tradesense:app` config section (TradeSense workloads and their sizing).

Defaults are the deployment guide's numbers (backend 500m/512Mi requests, 2000m/2Gi limits;
frontend 250m/256Mi, 1000m/1Gi). Stack files set what differs per stack: image tags, HPA
bounds, storage sizes and log level. Every field can be set with
`pulumi config set --path tradesense:app.<key> <value>`.
"""

from __future__ import annotations

from typing import Iterable, Literal, Optional

from pydantic import Field

from components.app.quantities import CPU_PATTERN, MEMORY_PATTERN, cpu_millicores, memory_bytes
from components.config_base import Environment, Problem, Section
from components.organisation import IMAGE_REGISTRY

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
# Redis eviction policies (redis.conf `maxmemory-policy`).
EvictionPolicy = Literal[
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
]

# Official images, pinned to a patch release. Digests cannot be looked up offline: set
# `digest` per stack (`crane digest docker.io/library/postgres:15.18-trixie`) to pin content.
# Postgres also pins the Debian release: a glibc upgrade changes collation order, which
# silently corrupts text indexes, so moving off trixie must be a deliberate REINDEX event.
POSTGRES_IMAGE = ("ghcr.io/cloudnative-pg/postgresql", "15.18-minimal-trixie")
REDIS_IMAGE = ("docker.io/library/redis", "7.4.10")


TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
REPOSITORY_PATTERN = r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)+$"


class Image(Section):
    repository: str = Field(pattern=REPOSITORY_PATTERN, description="image repository")
    # Required in practice (see problems); optional here so the section has a default.
    tag: Optional[str] = Field(None, pattern=TAG_PATTERN, description="image tag (`latest` is refused)")
    digest: Optional[str] = Field(None, pattern=r"^sha256:[a-f0-9]{64}$", description="`sha256:...`: pins the content")

    def problems(self, env: Environment) -> Iterable[Problem]:
        if self.tag is None:
            yield "tag", f"is required: the release of {self.repository} to run, e.g. 1.4.2"
        elif self.tag == "latest":
            yield "tag", "must name a release, not 'latest' (a moving tag makes rollouts and rollbacks unrepeatable)"

    @property
    def ref(self) -> str:
        ref = f"{self.repository}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref


# Per-workload image sections, so a stack file can set just `image.tag`.
class BackendImage(Image):
    repository: str = Field(f"{IMAGE_REGISTRY}/backend", pattern=REPOSITORY_PATTERN, description="backend image repository (registry: components/organisation.py)")


class FrontendImage(Image):
    repository: str = Field(f"{IMAGE_REGISTRY}/frontend", pattern=REPOSITORY_PATTERN, description="frontend image repository (registry: components/organisation.py)")


class PostgresImage(Image):
    repository: str = Field(POSTGRES_IMAGE[0], pattern=REPOSITORY_PATTERN, description="CloudNativePG PostgreSQL image")
    tag: Optional[str] = Field(POSTGRES_IMAGE[1], pattern=TAG_PATTERN, description="PostgreSQL image tag")


class RedisImage(Image):
    repository: str = Field(REDIS_IMAGE[0], pattern=REPOSITORY_PATTERN, description="Redis image")
    tag: Optional[str] = Field(REDIS_IMAGE[1], pattern=TAG_PATTERN, description="Redis image tag")


class Compute(Section):
    cpu: str = Field(pattern=CPU_PATTERN, description="CPU, e.g. `500m`")
    memory: str = Field(pattern=MEMORY_PATTERN, description="memory, e.g. `512Mi`")


class Resources(Section):
    requests: Compute
    limits: Compute

    def problems(self, env: Environment) -> Iterable[Problem]:
        if cpu_millicores(self.requests.cpu) > cpu_millicores(self.limits.cpu):
            yield "requests.cpu", f"must be <= limits.cpu (got {self.requests.cpu} > {self.limits.cpu})"
        if memory_bytes(self.requests.memory) > memory_bytes(self.limits.memory):
            yield "requests.memory", f"must be <= limits.memory (got {self.requests.memory} > {self.limits.memory})"

    def as_spec(self) -> dict:
        return {
            "requests": {"cpu": self.requests.cpu, "memory": self.requests.memory},
            "limits": {"cpu": self.limits.cpu, "memory": self.limits.memory},
        }


def _resources(req_cpu: str, req_mem: str, lim_cpu: str, lim_mem: str) -> Resources:
    return Resources(requests=Compute(cpu=req_cpu, memory=req_mem), limits=Compute(cpu=lim_cpu, memory=lim_mem))


class Autoscaling(Section):
    min_replicas: int = Field(1, ge=1, description="HPA minimum replicas")
    max_replicas: int = Field(2, ge=1, description="HPA maximum replicas")
    # Average utilisation relative to the container's requests.
    target_cpu_percent: int = Field(60, ge=10, le=100, description="HPA CPU target (% of requests)")
    target_memory_percent: int = Field(80, ge=10, le=100, description="HPA memory target (% of requests)")

    def problems(self, env: Environment) -> Iterable[Problem]:
        if self.max_replicas < self.min_replicas:
            yield "maxReplicas", f"must be >= minReplicas (got {self.max_replicas} < {self.min_replicas})"
        if env == "prod" and self.min_replicas < 2:
            yield "minReplicas", f"must be >= 2 in prod so a node or zone loss keeps serving (got {self.min_replicas})"


class WebWorkload(Section):
    """Shared shape of the stateless backend and frontend."""

    image: Image
    resources: Resources
    autoscaling: Autoscaling = Autoscaling()
    # UID the container runs as; the image's files must be readable by it.
    run_as_user: int = Field(10001, ge=1, description="the uid the image's files must be readable by")


class BackendConfig(WebWorkload):
    image: BackendImage = BackendImage()
    resources: Resources = _resources("500m", "512Mi", "2000m", "2Gi")


class FrontendConfig(WebWorkload):
    image: FrontendImage = FrontendImage()
    resources: Resources = _resources("250m", "256Mi", "1000m", "1Gi")


class MigrationsConfig(Section):
    # Runs in the backend image, with the backend's DATABASE_URL.
    command: list[str] = Field(default_factory=lambda: ["alembic", "upgrade", "head"], min_length=1, description="the migration Job's command")
    # Job activeDeadlineSeconds: a hung migration fails the update instead of blocking it.
    timeout_seconds: int = Field(900, ge=60, le=7200, description="the migration Job's deadline")
    # Retries for transient failures (the database restarting); 0 = fail on the first error.
    backoff_limit: int = Field(1, ge=0, le=5, description="retries of a failed migration")
    resources: Resources = _resources("250m", "256Mi", "1000m", "1Gi")


class DataStore(Section):
    image: Image
    # PVC size at creation. Later changes are ignored (the volume template is immutable):
    # grow a volume by expanding its PVC, see docs/DEPLOY.md.
    storage: str = Field(pattern=MEMORY_PATTERN, description="volume size at creation (grow it as docs/DEPLOY.md says)")
    resources: Resources


class PostgresConfig(DataStore):
    # CloudNativePG's PostgreSQL 15 operand image (minimal, Debian trixie), pinned by tag.
    image: PostgresImage = PostgresImage()
    # Instances of the CNPG Cluster: 3 in prod (one per zone), 1 elsewhere when unset.
    instances: Optional[int] = Field(None, ge=1, le=9, description="CNPG instances: 3 in prod (one per zone, a synchronous standby), 1 elsewhere")
    storage: str = Field("10Gi", pattern=MEMORY_PATTERN, description="volume per instance (CNPG resizes online)")
    resources: Resources = _resources("500m", "1Gi", "2000m", "2Gi")
    database: str = Field("tradesense", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="application database")
    user: str = Field("tradesense", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="application user")
    # Must cover every backend pod's pool at maxReplicas, plus migrations, backups and admin.
    max_connections: int = Field(100, ge=20, le=5000, description="PostgreSQL max_connections")

    def instance_count(self, env: Environment) -> int:
        return self.instances if self.instances is not None else (3 if env == "prod" else 1)

    def problems(self, env: Environment) -> Iterable[Problem]:
        if env == "prod" and self.instance_count(env) < 3:
            yield "instances", f"must be >= 3 in prod: one per zone, with a synchronous standby (got {self.instances})"


class RedisConfig(DataStore):
    image: RedisImage = RedisImage()
    storage: str = Field("2Gi", pattern=MEMORY_PATTERN, description="Redis volume (patch the PVC to grow it)")
    resources: Resources = _resources("100m", "256Mi", "500m", "512Mi")
    # The guide uses Redis as a cache (hit-rate target > 80%): evict least-recently-used keys.
    maxmemory_policy: EvictionPolicy = Field("allkeys-lru", description="Redis eviction policy")


Compression = Literal["gzip", "bzip2"]


class JobImage(Image):
    # Built from ops/Dockerfile: the tools the ops/ scripts call, and nothing else.
    repository: str = Field(f"{IMAGE_REGISTRY}/ops-jobs", pattern=REPOSITORY_PATTERN, description="ops-jobs image, built from ops/Dockerfile")
    tag: Optional[str] = Field("1.0.0", pattern=TAG_PATTERN, description="ops-jobs image tag")


class DrillConfig(Section):
    # Tables that must exist and hold rows in every restored backup.
    tables: list[str] = Field(default_factory=lambda: ["alembic_version"], min_length=1, description="tables the weekly restore drill checks")
    # The newest restored transaction may be at most this old (daily base backup + WAL).
    max_age_hours: int = Field(26, ge=1, le=24 * 14, description="the newest backup the drill accepts is at most this old")


class BackupsConfig(Section):
    """Backups of Postgres (WAL + daily base backups), Redis and uploads to object storage."""

    # Only dev and review stacks may turn backups off.
    enabled: bool = Field(True, description="continuous WAL archiving and base backups; only dev and review stacks may turn it off")
    # Point-in-time recovery window: base backups and WAL older than this are deleted.
    retention_days: int = Field(30, ge=1, le=3650, description="backup retention")
    wal_compression: Compression = Field("gzip", description="WAL compression")
    data_compression: Compression = Field("gzip", description="base backup compression")
    # Upper bound of the RPO when every instance is lost: a WAL segment ships at least this often.
    archive_timeout_seconds: int = Field(300, ge=30, le=300, description="archive_timeout: bounds the RPO (at most 300 s)")
    # Dev only (existing clusters): an S3-compatible endpoint and its existing buckets; the key
    # pair comes from the secrets tradesense:backupAccessKeyId / backupSecretAccessKey.
    endpoint: Optional[str] = Field(None, pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?/?$", description="existing clusters only: an S3-compatible endpoint (secrets backupAccessKeyId, backupSecretAccessKey)")
    region: str = Field("us-east-1", description="region of that endpoint")
    bucket: Optional[str] = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="existing clusters only: the backup bucket")
    uploads_bucket: Optional[str] = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="existing clusters only: the uploads bucket")
    drill: DrillConfig = DrillConfig()
    job_image: JobImage = JobImage()

    # The off-outside-dev rule lives in TradeSenseConfig.problems: a review stack (throwaway data
    # for one pull request) may turn backups off too, and only the whole config knows it is one.


class AppConfig(Section):
    log_level: LogLevel = Field("INFO", description="backend LOG_LEVEL")
    # Stripe publishable key (pk_...): public by design, so plain config, not a secret.
    stripe_publishable_key: Optional[str] = Field(None, pattern=r"^pk_(test|live)_[A-Za-z0-9]+$", description="frontend PUBLIC_STRIPE_KEY (public by design; required in staging and prod, pk_live_ in prod)")
    backend: BackendConfig = BackendConfig()
    frontend: FrontendConfig = FrontendConfig()
    migrations: MigrationsConfig = MigrationsConfig()
    postgres: PostgresConfig = PostgresConfig()
    redis: RedisConfig = RedisConfig()
    backups: BackupsConfig = BackupsConfig()

    def problems(self, env: Environment) -> Iterable[Problem]:
        key = self.stripe_publishable_key
        if key is None:
            if env != "dev":
                yield "stripePublishableKey", (
                    f"is required in {env} (the frontend's PUBLIC_STRIPE_KEY); set it with: "
                    "pulumi config set --path tradesense:app.stripePublishableKey pk_...")
        elif env == "prod" and not key.startswith("pk_live_"):
            yield "stripePublishableKey", "must be a live key (pk_live_...) in prod: test keys cannot take payments"
