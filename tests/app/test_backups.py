"""Backup, drill and maintenance CronJobs: schedules, job limits, restricted pods, scripts
mounted from the ops/ files, and identity per job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.k8s import named, objects
from tests.conftest import STACKS

OPS = Path(__file__).resolve().parents[2] / "ops"
SCHEDULES = {"redis-backup": "0 */6 * * *", "uploads-backup": "0 4 * * *", "restore-drill": "0 5 * * 0",
             "postgres-vacuum": "0 3 * * 0", "postgres-reindex": "30 3 1 * *"}
MAINTENANCE = {"postgres-vacuum", "postgres-reindex"}


def cron_jobs(rec) -> dict:
    return {r.inputs["metadata"]["name"]: named(rec, "CronJob", r.inputs["metadata"]["name"]) for r in objects(rec, "CronJob")}


@pytest.mark.parametrize("stack", STACKS)
def test_schedules_and_which_jobs_run(recordings, stack):
    jobs = cron_jobs(recordings[stack])
    expected = MAINTENANCE if stack == "dev" else set(SCHEDULES)  # dev has no object store
    assert set(jobs) == expected
    for name, job in jobs.items():
        assert job["spec"]["schedule"] == SCHEDULES[name]


@pytest.mark.parametrize("stack", STACKS)
def test_every_job_is_bounded_and_restricted(recordings, stack):
    for name, job in cron_jobs(recordings[stack]).items():
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["successfulJobsHistoryLimit"] <= 3 and spec["failedJobsHistoryLimit"] <= 3
        job_spec = spec["jobTemplate"]["spec"]
        assert job_spec["activeDeadlineSeconds"] > 0 and job_spec["backoffLimit"] <= 3
        pod = job_spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert pod["serviceAccountName"] == name
        labels = job_spec["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == ("maintenance" if name in MAINTENANCE else "backup")


def test_scripts_are_the_ops_files_mounted_from_one_configmap(recordings):
    rec = recordings["prod"]
    data = named(rec, "ConfigMap", "ops-scripts")["data"]
    assert data == {p.name: p.read_text() for p in OPS.glob("*.sh")}
    for name, job in cron_jobs(rec).items():
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        script = container["command"][0]
        assert script.startswith("/opt/ops/") and script.removeprefix("/opt/ops/") in data
        volume = next(v for v in pod["volumes"] if v["name"] == "scripts")
        assert volume["configMap"]["name"] == "ops-scripts"
        assert "args" not in container or not any("\n" in a for a in container["args"])  # no inline script


def test_maintenance_targets_the_primary_with_the_secret_password(recordings):
    for name in MAINTENANCE:
        (container,) = cron_jobs(recordings["prod"])[name]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["PGHOST"]["value"] == "postgres-rw.tradesense.svc"
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "postgres-credentials", "key": "password"}
        assert container["command"][1] == name.removeprefix("postgres-")


def test_backup_jobs_use_irsa_on_eks_and_key_secrets_on_doks(recordings):
    accounts = {r.inputs["metadata"]["name"]: r.inputs for r in objects(recordings["prod"], "ServiceAccount")}
    for name in ("redis-backup", "uploads-backup", "restore-drill"):
        assert accounts[name]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(f"-storage-{name}-irsa")
    (drill,) = cron_jobs(recordings["staging"])["restore-drill"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in drill["env"]}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "restore-drill-object-storage"
    assert env["S3_ENDPOINT_URL"]["value"] == "https://nyc1.digitaloceanspaces.com"
    assert env["BARMAN_DESTINATION"]["value"] == "s3://tradesense-staging-backup/postgres"


def test_backend_gets_the_uploads_bucket_through_its_identity(recordings):
    (container,) = named(recordings["prod"], "Deployment", "backend")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["UPLOADS_BUCKET"]["value"] == "tradesense-prod-uploads"
    assert "AWS_ACCESS_KEY_ID" not in env
    account = next(r.inputs for r in objects(recordings["prod"], "ServiceAccount") if r.inputs["metadata"]["name"] == "backend")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("-storage-backend-uploads-irsa")
    (staging,) = named(recordings["staging"], "Deployment", "backend")["spec"]["template"]["spec"]["containers"]
    staging_env = {e["name"]: e for e in staging["env"]}
    assert staging_env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "backend-uploads-object-storage"
