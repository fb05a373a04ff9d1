"""Backend, frontend, Postgres and Redis as the deployment guide and the issue describe them.

Expected numbers are the guide's (Resource Limits, Health Checks, Log Rotation sections) or
the committed stack files', never read from the code under test.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import stack_app_settings, stack_domain
from tests.app.k8s import env_of, named, objects, only_container
from tests.conftest import STACKS

GUIDE_RESOURCES = {
    "backend": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "2000m", "memory": "2Gi"}},
    "frontend": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}},
}
HEALTH = "/api/v1/monitoring/health"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("workload", ["backend", "frontend"])
def test_guide_resources(recordings, stack, workload):
    assert only_container(recordings[stack], "Deployment", workload)["resources"] == GUIDE_RESOURCES[workload]


@pytest.mark.parametrize("stack", STACKS)
def test_backend_probes_use_the_guide_health_endpoints_on_8000(recordings, stack):
    c = only_container(recordings[stack], "Deployment", "backend")
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    for probe, path in (("livenessProbe", "live"), ("readinessProbe", "ready"), ("startupProbe", "startup")):
        assert c[probe]["httpGet"] == {"path": f"{HEALTH}/{path}", "port": 8000}
    # The startup probe covers boot, so liveness can stay strict without killing slow starts.
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


@pytest.mark.parametrize("stack", STACKS)
def test_frontend_probes_health(recordings, stack):
    c = only_container(recordings[stack], "Deployment", "frontend")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"
        assert c[probe]["httpGet"]["port"] == c["ports"][0]["containerPort"]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("workload", ["backend", "frontend"])
def test_graceful_shutdown_drains_for_15_seconds(recordings, stack, workload):
    pod = named(recordings[stack], "Deployment", workload)["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    # The guide's `sleep 15`, as the native sleep action (no shell needed in the image).
    assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 15}}
    # The grace period covers the drain plus time to finish in-flight requests after SIGTERM.
    assert pod["terminationGracePeriodSeconds"] >= 15 + 10


@pytest.mark.parametrize("stack", STACKS)
def test_backend_writes_only_to_tmp_and_app_logs(recordings, stack):
    pod = named(recordings[stack], "Deployment", "backend")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert set(mounts) == {"/tmp", "/app/logs"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name in mounts.values():
        assert "sizeLimit" in volumes[name]["emptyDir"]  # a runaway log cannot fill the node
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("workload", ["backend", "frontend"])
def test_rollouts_never_reduce_capacity_and_spread_over_zones_and_nodes(recordings, stack, workload):
    spec = named(recordings[stack], "Deployment", workload)["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    # The HPA owns the replica count; a count in the manifest would fight it on every update.
    assert "replicas" not in spec
    pod_labels = spec["template"]["metadata"]["labels"]
    spread = {c["topologyKey"]: c for c in spec["template"]["spec"]["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in spread.values():
        assert constraint["maxSkew"] == 1
        selector = constraint["labelSelector"]["matchLabels"]
        assert selector.items() <= pod_labels.items() and selector
    assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"


def test_backend_env_follows_the_guide(recordings):
    env = env_of(only_container(recordings["prod"], "Deployment", "backend"))
    assert env["ENVIRONMENT"]["value"] == "production"
    assert env["LOG_LEVEL"]["value"] == stack_app_settings("prod")["logLevel"]
    domain = stack_domain("prod")
    assert env["CORS_ORIGINS"]["value"] == f"https://{domain},https://www.{domain}"
    for name in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "STRIPE_API_KEY", "SENTRY_DSN", "STRIPE_WEBHOOK_SECRET"):
        assert "secretKeyRef" in env[name]["valueFrom"], name


def test_dev_backend_runs_as_development_with_its_own_log_level(recordings):
    env = env_of(only_container(recordings["dev"], "Deployment", "backend"))
    assert env["ENVIRONMENT"]["value"] == "development"
    assert env["LOG_LEVEL"]["value"] == stack_app_settings("dev")["logLevel"] == "DEBUG"


@pytest.mark.parametrize("stack", STACKS)
def test_frontend_env_follows_the_guide(recordings, stack):
    env = env_of(only_container(recordings[stack], "Deployment", "frontend"))
    domain = stack_domain(stack)
    assert env["NODE_ENV"]["value"] == "production"
    assert env["VITE_API_BASE_URL"]["value"] == f"https://api.{domain}"
    publishable = stack_app_settings(stack).get("stripePublishableKey")
    if publishable:
        assert env["PUBLIC_STRIPE_KEY"]["value"] == publishable
    else:
        assert "PUBLIC_STRIPE_KEY" not in env


def test_images_come_from_config(stub_run):
    rec = stub_run("staging", overrides={"app.backend.image.tag": "2.3.4", "app.frontend.image.tag": "5.6.7",
                                         "app.backend.image.digest": "sha256:" + "a" * 64})
    assert only_container(rec, "Deployment", "backend")["image"] == "ghcr.io/tradesense/backend:2.3.4@sha256:" + "a" * 64
    assert only_container(rec, "Deployment", "frontend")["image"] == "ghcr.io/tradesense/frontend:5.6.7"


@pytest.mark.parametrize("stack", STACKS)
def test_data_stores_run_pinned_images(recordings, stack):
    postgres = named(recordings[stack], "Cluster", "postgres")["spec"]["imageName"]
    redis_pod = named(recordings[stack], "StatefulSet", "redis")["spec"]["template"]["spec"]
    redis = next(c for c in redis_pod["containers"] if c["name"] == "redis")["image"]  # beside the exporter
    # CNPG's PostgreSQL 15 operand image, pinned to a minor and the Debian release.
    assert postgres.startswith("ghcr.io/cloudnative-pg/postgresql:15.") and postgres.endswith("-trixie")
    assert redis.startswith("docker.io/library/redis:7.")
    assert redis.split(":")[1].count(".") >= 2


@pytest.mark.parametrize("stack", STACKS)
def test_redis_persists_with_aof_and_requires_a_password(recordings, stack):
    rec = recordings[stack]
    sts = named(rec, "StatefulSet", "redis")
    (c,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "redis"]
    config = named(rec, "ConfigMap", "redis-config")["data"]["redis.conf"].splitlines()
    assert "appendonly yes" in config
    assert any(line.startswith("include ") for line in config)
    assert not any(line.startswith("requirepass") for line in config)  # the password is not in a ConfigMap
    assert c["args"][-1].endswith("redis.conf")
    assert not any("value" in e and "PASS" in e["name"] for e in c.get("env", []))
    data_mount = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "data")
    assert f"dir {data_mount}" in config
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert "redis-cli" in " ".join(c[probe]["exec"]["command"])


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("store,port", [("redis", 6379)])
def test_data_stores_have_headless_services(recordings, stack, store, port):
    rec = recordings[stack]
    service = named(rec, "Service", store)["spec"]
    sts = named(rec, "StatefulSet", store)["spec"]
    assert service["clusterIP"] == "None"
    assert sts["serviceName"] == store
    assert service["selector"].items() <= sts["template"]["metadata"]["labels"].items()
    assert [p["port"] for p in service["ports"]] == [port]


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_has_its_own_service_account_without_a_token(recordings, stack):
    rec = recordings[stack]
    accounts = {r.inputs["metadata"]["name"]: r.inputs for r in objects(rec, "ServiceAccount")}
    used = set()
    for kind in ("Deployment", "StatefulSet", "Job", "CronJob"):
        for resource in objects(rec, kind):
            spec = resource.inputs["spec"]
            pod = (spec["jobTemplate"]["spec"] if kind == "CronJob" else spec)["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False
            assert pod["serviceAccountName"] in accounts
            used.add(pod["serviceAccountName"])
    # backend, frontend, redis, migrations and every CronJob: no sharing (CNPG makes Postgres's own).
    assert len(used) == 4 + len(objects(rec, "CronJob"))
    for name in used:
        assert accounts[name]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_every_app_object_carries_the_recommended_labels(recordings, stack):
    for resource in objects(recordings[stack]):
        labels = resource.inputs["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by"):
            assert key in labels, f"{resource.name} lacks {key}"
        assert labels["app.kubernetes.io/part-of"] == "tradesense"


def test_any_valid_image_tag_makes_a_valid_version_label(stub_run):
    rec = stub_run("dev", overrides={"app.backend.image.tag": "_build.7-"})
    deployment = named(rec, "Deployment", "backend")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":_build.7-")
    # Label values must start and end with an alphanumeric character.
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == "build.7"
