"""DOKS rules: auto-upgrade, maintenance window, surge upgrade, HA in prod."""

from __future__ import annotations

import pytest

from .fixtures import DELETE, UNKNOWN, make_resource, messages, patched, run

DOKS = "digitalocean:index/kubernetesCluster:KubernetesCluster"


def cluster(**changes):
    base = {
        "name": "tradesense-staging", "region": "nyc1", "version": "1.33.4-do.1", "vpcUuid": "vpc",
        "autoUpgrade": True, "surgeUpgrade": True, "ha": True,
        "maintenancePolicy": {"day": "saturday", "startTime": "02:00"},
        "nodePool": {"name": "default", "size": "s-2vcpu-4gb", "autoScale": True, "minNodes": 3, "maxNodes": 5},
    }
    return make_resource(DOKS, "staging-cluster", patched(base, changes))


CASES = [
    ("do-kubernetes-cluster-require-auto-upgrade", {"autoUpgrade": False}, "does not enable autoUpgrade", "mandatory"),
    ("do-kubernetes-cluster-require-auto-upgrade", {"autoUpgrade": DELETE}, "does not enable autoUpgrade", "mandatory"),
    ("do-kubernetes-cluster-require-maintenance-window", {"maintenancePolicy": DELETE}, "day and startTime unset", "advisory"),
    ("do-kubernetes-cluster-require-maintenance-window", {"maintenancePolicy.startTime": DELETE}, "startTime unset", "advisory"),
    ("do-kubernetes-cluster-require-surge-upgrade", {"surgeUpgrade": False}, "disables surgeUpgrade", "advisory"),
    ("do-kubernetes-cluster-require-ha", {"ha": False}, "non-HA", "advisory"),
    # Missing ha is the provider default: off before 1.36.
    ("do-kubernetes-cluster-require-ha", {"ha": DELETE}, "non-HA", "advisory"),
]


def test_compliant_cluster():
    for rule in {c[0] for c in CASES}:
        assert run(rule, [cluster()]) == [], rule
    # surgeUpgrade defaults to true; ha defaults to true from 1.36.
    assert run("do-kubernetes-cluster-require-surge-upgrade", [cluster(surgeUpgrade=DELETE)]) == []
    assert run("do-kubernetes-cluster-require-ha", [cluster(ha=DELETE, version="1.36.1-do.0")]) == []


@pytest.mark.parametrize("rule,changes,expected,level", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_violation_and_unknown(rule, changes, expected, level):
    found = run(rule, [cluster(**changes)])
    assert found and found[0].enforcement == level
    assert expected in messages(found) and "staging-cluster" in messages(found)
    unknown = {path: UNKNOWN for path in changes}
    assert run(rule, [cluster(**unknown)]) == []


def test_ha_only_required_in_prod():
    for env in ("dev", "staging"):
        assert run("do-kubernetes-cluster-require-ha", [cluster(ha=False)], {"do-kubernetes-cluster-require-ha": {"environment": env}}) == []
    assert run("do-kubernetes-cluster-require-ha", [cluster(ha=DELETE, version=UNKNOWN)]) == []
