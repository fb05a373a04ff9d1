"""Component structure: one component per concept, children parented and on the cluster's
provider, unique names, and every namespaced object waiting for its namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.k8s import objects
from tests.conftest import STACKS

CONCEPTS = {"TradeSenseApp", "AppSecrets", "Postgres", "Redis", "Backend", "Frontend", "Migrations", "Routing", "NetworkPolicies",
            "Observability", "BackupJobs"}


def app_components(rec):
    return [r for r in rec.resources if r.type.startswith("tradesense:app:")]


@pytest.mark.parametrize("stack", STACKS)
def test_one_component_per_concept(recordings, stack):
    components = app_components(recordings[stack])
    assert sorted(r.type.removeprefix("tradesense:app:") for r in components) == sorted(CONCEPTS)
    root = next(r for r in components if r.type == "tradesense:app:TradeSenseApp")
    for component in components:
        if component is not root:
            assert component.parent == root.urn


@pytest.mark.parametrize("stack", STACKS)
def test_kubernetes_children_use_the_cluster_provider(recordings, stack):
    rec = recordings[stack]
    providers = rec.of_type("pulumi:providers:kubernetes")
    cluster_provider = next(p for p in providers if "tradesense:cluster:" in p.urn)
    component_urns = {r.urn for r in app_components(rec)}
    app_objects = [r for r in rec.resources if r.parent in component_urns and r.type.startswith("kubernetes:")]
    assert len(app_objects) >= 30
    for resource in app_objects:
        assert resource.provider.startswith(cluster_provider.urn + "::"), resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_logical_names_are_unique(recordings, stack):
    """The engine rejects duplicate URNs; the mocks do not, so check here."""
    urns = [r.urn for r in recordings[stack].resources]
    assert len(urns) == len(set(urns))
    app_names = [r.name for r in recordings[stack].resources if "tradesense:app:" in r.urn]
    assert len(app_names) == len(set(app_names))


@pytest.mark.parametrize("stack", STACKS)
def test_every_app_object_waits_for_the_namespace(recordings, stack):
    rec = recordings[stack]
    (namespace,) = [r for r in rec.kubernetes_objects() if r.inputs["kind"] == "Namespace" and r.inputs["metadata"]["name"] == "tradesense"]
    app_objects = [r for r in objects(rec) if "tradesense:app:" in r.urn]
    assert app_objects
    for resource in app_objects:
        assert namespace.urn in resource.dependencies, resource.name


def test_app_code_imports_no_cloud_sdk():
    for path in Path(__file__).resolve().parents[2].joinpath("components", "app").glob("*.py"):
        source = path.read_text()
        assert "pulumi_aws" not in source and "pulumi_digitalocean" not in source, path.name
