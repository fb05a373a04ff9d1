"""Credentials only ever travel as Pulumi secrets into Kubernetes Secrets, and pods read them
through secretKeyRef; the wiring is consistent (the password Postgres is initialised with is
the one in DATABASE_URL)."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from components.config import ConfigError
from tests.app.k8s import env_of, mounted_secret_key, named, objects, only_container, resource_of
from tests.conftest import DELETE, STACKS, TEST_SECRETS, run_stack, secret_keys, stack_config
from tools.mock_runtime import is_secret, run_program


def app_passwords(rec):
    passwords = [r for r in rec.of_type("random:index/randomPassword:RandomPassword") if "tradesense:app:" in r.urn]
    assert len(passwords) == 3  # postgres, redis, JWT
    return passwords


def secret_values(rec) -> set[str]:
    """Every credential value of the run: config secrets and every generated password."""
    app_passwords(rec)
    generated = {r.outputs["result"] for r in rec.of_type("random:index/randomPassword:RandomPassword")}
    return set(TEST_SECRETS.values()) | generated


def plain_strings(value, path="") -> list[tuple[str, str]]:
    """Every string in `value` that is not inside a secret-marked subtree."""
    if is_secret(value):
        return []
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in plain_strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in plain_strings(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) else []


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_appears_in_any_plain_input(recordings, stack):
    rec = recordings[stack]
    values = secret_values(rec)
    leaks = [
        (resource.name, path)
        for resource in rec.resources
        for path, text in plain_strings(resource.inputs)
        if any(value in text for value in values)
    ]
    assert leaks == []
    assert not any(any(v in str(out) for v in values) for key, out in rec.outputs.items() if key not in rec.secret_outputs)


def secret_data(rec, name: str) -> dict:
    data = resource_of(rec, "Secret", name).inputs["stringData"]
    assert is_secret(data), f"Secret {name} data is not a Pulumi secret"
    return data["value"]


def referenced_secret_value(rec, env_entry: dict) -> str:
    ref = env_entry["valueFrom"]["secretKeyRef"]
    resource = resource_of(rec, "Secret", ref["name"])
    data = resource.inputs["stringData"]
    assert is_secret(data), f"Secret {ref['name']} data is not a Pulumi secret"
    return data["value"][ref["key"]]


@pytest.mark.parametrize("stack", STACKS)
def test_backend_credentials_come_from_secrets(recordings, stack):
    rec = recordings[stack]
    env = env_of(only_container(rec, "Deployment", "backend"))
    expected = {"DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "SENTRY_DSN"}
    for name in expected:
        assert "value" not in env[name], name
        assert referenced_secret_value(rec, env[name])
    assert referenced_secret_value(rec, env["STRIPE_API_KEY"]) == TEST_SECRETS["tradesense:stripeApiKey"]
    assert referenced_secret_value(rec, env["STRIPE_WEBHOOK_SECRET"]) == TEST_SECRETS["tradesense:stripeWebhookSecret"]
    assert referenced_secret_value(rec, env["SENTRY_DSN"]) == TEST_SECRETS["tradesense:sentryDsn"]
    assert len(referenced_secret_value(rec, env["JWT_SECRET_KEY"])) >= 32  # the guide: 32+ characters


@pytest.mark.parametrize("stack", STACKS)
def test_database_url_matches_what_postgres_is_initialised_with(recordings, stack):
    rec = recordings[stack]
    url = urlparse(referenced_secret_value(rec, env_of(only_container(rec, "Deployment", "backend"))["DATABASE_URL"]))
    initdb = named(rec, "Cluster", "postgres")["spec"]["bootstrap"]["initdb"]
    credentials = named(rec, "Secret", initdb["secret"]["name"])
    assert credentials["type"] == "kubernetes.io/basic-auth"  # what CNPG's initdb requires
    data = secret_data(rec, initdb["secret"]["name"])
    assert url.scheme == "postgresql"
    assert url.username == data["username"] == initdb["owner"]
    assert url.password == data["password"]
    assert url.path == "/" + initdb["database"]
    # The primary, through CNPG's read-write Service.
    assert url.hostname.split(".")[:2] == ["postgres-rw", "tradesense"] and url.port == 5432
    # The migrations read the same URL.
    job = only_container(rec, "Job", objects(rec, "Job")[0].inputs["metadata"]["name"])
    assert env_of(job)["DATABASE_URL"]["valueFrom"] == env_of(only_container(rec, "Deployment", "backend"))["DATABASE_URL"]["valueFrom"]


@pytest.mark.parametrize("stack", STACKS)
def test_redis_url_matches_the_password_redis_requires(recordings, stack):
    rec = recordings[stack]
    url = urlparse(referenced_secret_value(rec, env_of(only_container(rec, "Deployment", "backend"))["REDIS_URL"]))
    pod = named(rec, "StatefulSet", "redis")["spec"]["template"]["spec"]
    (redis,) = [c for c in pod["containers"] if c["name"] == "redis"]
    config = named(rec, "ConfigMap", "redis-config")["data"]["redis.conf"]
    include = next(line.split(" ", 1)[1] for line in config.splitlines() if line.startswith("include "))
    name, key = mounted_secret_key(pod, redis, include)
    auth_file = secret_data(rec, name)[key]
    assert auth_file.strip() == f"requirepass {url.password}"
    # The probes read the same password from a mounted file.
    probe = " ".join(redis["readinessProbe"]["exec"]["command"])
    password_path = probe.split("$(cat ")[1].split(")")[0]
    name, key = mounted_secret_key(pod, redis, password_path)
    assert secret_data(rec, name)[key] == url.password
    # The metrics sidecar authenticates with the same password, by reference.
    (exporter,) = [c for c in pod["containers"] if c["name"] == "redis-exporter"]
    ref = env_of(exporter)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert secret_data(rec, ref["name"])[ref["key"]] == url.password
    assert url.scheme == "redis" and url.hostname.split(".")[:2] == ["redis", "tradesense"] and url.port == 6379


@pytest.mark.parametrize("stack", STACKS)
def test_generated_passwords_are_url_safe_and_long(recordings, stack):
    for password in app_passwords(recordings[stack]):
        assert password.inputs["special"] is False  # letters and digits: nothing to escape in a URL
        assert password.inputs["length"] >= 32


def test_generated_credentials_survive_in_prod_only(recordings):
    for stack in STACKS:
        for password in app_passwords(recordings[stack]):
            assert password.protect is (stack == "prod"), (stack, password.name)


def test_dev_runs_without_stripe_and_sentry():
    rec = run_stack("dev", secrets=False)
    env = env_of(only_container(rec, "Deployment", "backend"))
    assert not {"STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "SENTRY_DSN"} & set(env)
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY"} <= set(env)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_missing_stripe_key_names_the_command_to_run(stack):
    config = stack_config(stack)
    del config["tradesense:stripeApiKey"]
    with pytest.raises(ConfigError) as error:
        run_program(config, stack, secret_keys=secret_keys(config))
    assert "pulumi config set --secret tradesense:stripeApiKey" in str(error.value)


@pytest.mark.parametrize("stack", STACKS)
def test_no_static_cloud_keys(recordings, stack):
    """EKS uses IRSA only. DOKS has no workload identity: its Spaces keys (generated, scoped
    per bucket) sit only in `*-object-storage` Secrets and reach pods only by secretKeyRef."""
    for resource in objects(recordings[stack]):
        body = resource.inputs
        if body["kind"] == "Secret" and body["metadata"]["name"].endswith("-object-storage"):
            assert stack == "staging"
            continue
        text = str(body).lower()
        assert "access-key-id" not in text and "secret-access-key" not in text
        assert body["metadata"]["name"] != "aws-credentials"
        for env in _all_env(body):
            if env["name"] in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                assert stack == "staging" and env["valueFrom"]["secretKeyRef"]["name"].endswith("-object-storage")
                assert "value" not in env


def _all_env(body):
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "env" and isinstance(value, list):
                yield from value
            else:
                yield from _all_env(value)
    elif isinstance(body, list):
        for item in body:
            yield from _all_env(item)


def test_missing_publishable_key_is_reported_with_its_key():
    with pytest.raises(ConfigError) as error:
        run_stack("staging", {"app.stripePublishableKey": DELETE})
    assert "tradesense:app.stripePublishableKey is required in staging" in str(error.value)
