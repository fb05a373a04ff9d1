"""Redis volumes (Postgres is a CNPG Cluster: tests/app/test_postgres.py): sized per stack, on the cluster's storage class, and in prod
kept through stack deletion (protect, retain on delete, PVC retention, Retain reclaim)."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import stack_app_settings
from tests.app.k8s import manifest, objects, resource_of
from tests.conftest import STACKS
from tools.stack_files import read_stack

STORES = ("redis",)


def claim_template(rec, store: str) -> dict:
    (template,) = manifest(resource_of(rec, "StatefulSet", store))["spec"]["volumeClaimTemplates"]
    return template


def expected_storage_class(rec, stack: str) -> str:
    cluster = json.loads(read_stack(stack).config["tradesense:cluster"])
    if cluster["cloud"] == "existing":
        return cluster["existing"]["storageClass"]
    if cluster["cloud"] == "doks":
        return "do-block-storage"  # DigitalOcean's built-in block-storage class
    (storage_class,) = [manifest(r) for r in objects(rec, "StorageClass", namespace=None)]
    return storage_class["metadata"]["name"]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("store", STORES)
def test_volume_size_and_class_come_from_stack_and_cluster(recordings, stack, store):
    rec = recordings[stack]
    template = claim_template(rec, store)
    assert template["spec"]["resources"]["requests"]["storage"] == stack_app_settings(stack)[store]["storage"]
    assert template["spec"]["storageClassName"] == expected_storage_class(rec, stack)
    assert template["spec"]["accessModes"] == ["ReadWriteOnce"]
    containers = manifest(resource_of(rec, "StatefulSet", store))["spec"]["template"]["spec"]["containers"]
    (container,) = [c for c in containers if c["name"] == store]
    assert template["metadata"]["name"] in {m["name"] for m in container["volumeMounts"]}


@pytest.mark.parametrize("store", STORES)
def test_prod_volumes_survive_stack_deletion(recordings, store):
    rec = recordings["prod"]
    sts = resource_of(rec, "StatefulSet", store)
    assert sts.protect, "pulumi destroy must refuse while the data store is protected"
    assert sts.retain_on_delete, "lifting protection must not delete the StatefulSet with it"
    assert sts.inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    # Even a deleted PVC keeps its disk: the prod storage class reclaims with Retain.
    (storage_class,) = [manifest(r) for r in objects(rec, "StorageClass", namespace=None)]
    assert storage_class["metadata"]["name"] == claim_template(rec, store)["spec"]["storageClassName"]
    assert storage_class["reclaimPolicy"] == "Retain"
    # Deleting the namespace would delete the PVCs: it is protected too.
    (namespace,) = [r for r in rec.kubernetes_objects() if r.inputs["kind"] == "Namespace" and r.inputs["metadata"]["name"] == "tradesense"]
    assert namespace.protect


@pytest.mark.parametrize("stack", ["dev", "staging"])
@pytest.mark.parametrize("store", STORES)
def test_non_prod_volumes_are_cleaned_up_with_the_stack(recordings, stack, store):
    rec = recordings[stack]
    sts = resource_of(rec, "StatefulSet", store)
    assert not sts.protect and not sts.retain_on_delete
    # `pulumi destroy` deletes the namespace, and with it the PVCs the StatefulSet retained.
    (namespace,) = [r for r in rec.kubernetes_objects() if r.inputs["kind"] == "Namespace" and r.inputs["metadata"]["name"] == "tradesense"]
    assert not namespace.protect and not namespace.retain_on_delete


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("store", STORES)
def test_a_replaced_stateful_set_finds_its_data_again(recordings, stack, store):
    sts = resource_of(recordings[stack], "StatefulSet", store)
    # Retained PVCs are re-attached by name (data-<name>-0) when the StatefulSet comes back...
    assert sts.inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    # ...and a size change in config never forces a replacement (templates are immutable).
    assert "spec.volumeClaimTemplates" in sts.ignore_changes


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("store", STORES)
def test_data_stores_are_single_replica(recordings, stack, store):
    assert resource_of(recordings[stack], "StatefulSet", store).inputs["spec"]["replicas"] == 1


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_cluster_autoscaler_never_evicts_a_data_store(recordings, stack):
    for name in STORES:
        sts = next(r for r in recordings[stack].of_type("kubernetes:apps/v1:StatefulSet") if r.inputs["metadata"]["name"] == name)
        annotations = sts.inputs["spec"]["template"]["metadata"]["annotations"]
        assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
