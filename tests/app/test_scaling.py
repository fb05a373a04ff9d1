"""HPAs (autoscaling/v2, CPU and memory, per-stack bounds) and PodDisruptionBudgets."""

from __future__ import annotations

import pytest

from tests.app.conftest import stack_app_settings
from tests.app.k8s import named, objects
from tests.conftest import STACKS


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and selector.items() <= labels.items()


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("workload", ["backend", "frontend"])
def test_hpa_scales_the_deployment_on_cpu_and_memory_within_stack_bounds(recordings, stack, workload):
    rec = recordings[stack]
    hpas = [r.inputs for r in objects(rec, "HorizontalPodAutoscaler") if r.inputs["spec"]["scaleTargetRef"]["name"] == workload]
    assert len(hpas) == 1
    hpa = hpas[0]
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload}
    named(rec, "Deployment", workload)  # the target exists
    bounds = stack_app_settings(stack)[workload]["autoscaling"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (bounds["minReplicas"], bounds["maxReplicas"])
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert set(targets) == {"cpu", "memory"}
    for target in targets.values():
        assert target["type"] == "Utilization"
    # The guide's ceilings: CPU < 70 %, memory < 80 %. Scaling must start at or below them.
    assert targets["cpu"]["averageUtilization"] <= 70
    assert targets["memory"]["averageUtilization"] <= 80


def test_prod_keeps_a_replica_per_zone(recordings):
    for workload in ("backend", "frontend"):
        hpa = next(r.inputs for r in objects(recordings["prod"], "HorizontalPodAutoscaler")
                   if r.inputs["spec"]["scaleTargetRef"]["name"] == workload)
        assert hpa["spec"]["minReplicas"] >= 3  # three availability zones in the prod stack


def test_hpa_bounds_follow_config(stub_run):
    rec = stub_run("staging", overrides={"app.backend.autoscaling": {"minReplicas": 4, "maxReplicas": 7, "targetCpuPercent": 55}})
    hpa = next(r.inputs for r in objects(rec, "HorizontalPodAutoscaler") if r.inputs["spec"]["scaleTargetRef"]["name"] == "backend")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 7)
    cpu = next(m for m in hpa["spec"]["metrics"] if m["resource"]["name"] == "cpu")
    assert cpu["resource"]["target"]["averageUtilization"] == 55


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("workload", ["backend", "frontend"])
def test_pdb_covers_exactly_the_workload_and_lets_drains_progress(recordings, stack, workload):
    rec = recordings[stack]
    pod_labels = {kind_name: named(rec, kind, kind_name)["spec"]["template"]["metadata"]["labels"]
                  for kind, kind_name in (("Deployment", "backend"), ("Deployment", "frontend"),
                                          ("StatefulSet", "redis"))}
    # CNPG's instance pods carry the Cluster's inherited labels plus cnpg.io/cluster.
    cluster = named(rec, "Cluster", "postgres")
    pod_labels["postgres"] = {**cluster["spec"]["inheritedMetadata"]["labels"], "cnpg.io/cluster": "postgres"}
    pdbs = [r.inputs["spec"] for r in objects(rec, "PodDisruptionBudget")
            if selects(r.inputs["spec"]["selector"]["matchLabels"], pod_labels[workload])]
    assert len(pdbs) == 1
    pdb = pdbs[0]
    others = [name for name, labels in pod_labels.items() if name != workload]
    assert not any(selects(pdb["selector"]["matchLabels"], pod_labels[o]) for o in others)
    # At most one pod down at a time, yet a drain can always evict (even at one replica).
    assert pdb.get("maxUnavailable") == 1 and "minAvailable" not in pdb
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
