"""Migrations run as a Job from the backend image before the backend rolls out, re-run when
the image changes, and a failed migration stops the rollout."""

from __future__ import annotations

import pytest

from tests.app.k8s import env_of, named, objects, resource_of
from tests.conftest import STACKS


def the_job(rec):
    jobs = objects(rec, "Job")
    assert len(jobs) == 1
    return jobs[0]


@pytest.mark.parametrize("stack", STACKS)
def test_job_runs_the_backend_image_with_the_configured_command(recordings, stack):
    rec = recordings[stack]
    job = the_job(rec).inputs
    (container,) = job["spec"]["template"]["spec"]["containers"]
    backend_image = named(rec, "Deployment", "backend")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["image"] == backend_image
    assert container["command"] == ["alembic", "upgrade", "head"]
    assert "secretKeyRef" in env_of(container)["DATABASE_URL"]["valueFrom"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("stack", STACKS)
def test_job_is_bounded_and_kept_for_pulumi(recordings, stack):
    spec = the_job(recordings[stack]).inputs["spec"]
    assert 0 <= spec["backoffLimit"] <= 3
    assert 60 <= spec["activeDeadlineSeconds"] <= 3600
    # A TTL would delete the Job behind Pulumi's back; a refresh would then re-create (re-run) it.
    assert "ttlSecondsAfterFinished" not in spec


@pytest.mark.parametrize("stack", STACKS)
def test_backend_waits_for_the_migration_which_waits_for_postgres(recordings, stack):
    rec = recordings[stack]
    job = the_job(rec)
    backend = resource_of(rec, "Deployment", "backend")
    postgres = resource_of(rec, "Cluster", "postgres")
    assert job.urn in backend.dependencies
    assert postgres.urn in job.dependencies
    # The frontend does not wait for migrations.
    assert job.urn not in resource_of(rec, "Deployment", "frontend").dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_job_may_reach_postgres_before_it_starts(recordings, stack):
    """The NetworkPolicies exist before the Job runs (default deny would otherwise block it)."""
    rec = recordings[stack]
    job = the_job(rec)
    policies = {r.urn for r in objects(rec, "NetworkPolicy")}
    assert policies and policies <= set(job.dependencies)


def test_a_new_image_means_a_new_job_and_the_same_image_the_same_job(stub_run):
    base = the_job(stub_run("staging")).inputs["metadata"]["name"]
    same = the_job(stub_run("staging", overrides={"app.frontend.image.tag": "9.9.9"})).inputs["metadata"]["name"]
    new_tag = the_job(stub_run("staging", overrides={"app.backend.image.tag": "1.0.1"})).inputs["metadata"]["name"]
    new_command = the_job(stub_run("staging", overrides={"app.migrations.command": ["python", "-m", "app.migrate"]}))
    assert base == same
    assert new_tag != base and new_command.inputs["metadata"]["name"] not in (base, new_tag)
    assert new_command.inputs["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "app.migrate"]
    for name in (base, new_tag):
        assert name.startswith("backend-migrations-") and len(name) <= 63


def test_a_failed_job_is_retried_on_the_next_update(recordings):
    annotations = the_job(recordings["prod"]).inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/replaceUnready"] == "true"
