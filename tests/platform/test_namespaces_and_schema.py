"""Namespaces with Pod Security labels; every object created directly is valid and named."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.platform.conftest import EDGES, NAMESPACE
from tools.mock_runtime import unwrap_secrets

KUBERNETES_VERSION = "1.35.0"
STACKS = ("dev", "staging", "prod")
CLUSTER_SCOPED = {"Namespace", "ClusterIssuer", "StorageClass", "ClusterRole", "ClusterRoleBinding",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def _ints(value):
    """The mock runtime turns integers into floats; the API server would receive integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _labels(run) -> dict[str, dict]:
    return {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in run.recording.of_type(NAMESPACE)}


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_guide_namespaces_exist_and_the_app_namespace_is_restricted(platform_runs, stack, edge):
    labels = _labels(platform_runs[(stack, edge)])
    edge_namespace = {"gateway-api": "nginx-gateway", "ingress-nginx": "ingress-nginx"}[edge]
    assert {"tradesense", "monitoring", "cert-manager", edge_namespace} <= set(labels)
    app = labels["tradesense"]
    for mode in ("enforce", "audit", "warn"):
        assert app[f"pod-security.kubernetes.io/{mode}"] == "restricted"


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_only_node_exporter_runs_privileged(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    labels = _labels(run)
    assert all("pod-security.kubernetes.io/enforce" in l for l in labels.values())
    privileged = {n for n, l in labels.items() if l["pod-security.kubernetes.io/enforce"] != "restricted"}
    node_exporter = run.values("kube-prometheus-stack")["prometheus-node-exporter"]["namespaceOverride"]
    assert privileged == {node_exporter}
    assert labels[node_exporter]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_stateful_namespaces_are_protected_in_prod_only(platform_runs):
    for stack in STACKS:
        protected = {r.inputs["metadata"]["name"] for r in platform_runs[(stack, "gateway-api")].recording.of_type(NAMESPACE)
                     if r.protect}
        assert protected == ({"tradesense", "monitoring"} if stack == "prod" else set()), stack


def _validate_all(recording) -> tuple[int, int]:
    """Strict schema validation of every object; only CRD kinds (no built-in schema) are skipped."""
    validated, custom = 0, 0
    for resource in recording.kubernetes_objects():
        obj = _ints(unwrap_secrets(resource.inputs))
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            custom += 1
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{resource.type} {resource.name}: {exc.message} at {list(exc.path)}")
    return validated, custom


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_platform_object_passes_strict_schema_validation(platform_runs, stack, edge):
    validated, custom = _validate_all(platform_runs[(stack, edge)].recording)
    assert validated >= 5 and custom >= 2


@pytest.mark.parametrize("stack", STACKS)
def test_every_object_of_the_whole_program_passes_strict_schema_validation(recordings, stack):
    validated, custom = _validate_all(recordings[stack])
    assert validated >= 5 and custom >= 2


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_object_is_explicitly_named_and_namespaced(platform_runs, stack, edge):
    for resource in platform_runs[(stack, edge)].recording.kubernetes_objects():
        metadata = resource.inputs["metadata"]
        assert metadata.get("name"), resource.name
        if resource.inputs["kind"] not in CLUSTER_SCOPED:
            assert metadata.get("namespace"), resource.name
