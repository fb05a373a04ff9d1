"""Every values key of every release, for every stack and edge, is one the pinned chart knows
(tools/chart_values.py): Helm silently ignores the rest, which is how NGF's control-plane
metrics went unscraped (`nginxGateway.metrics.serviceMonitor`, absent from chart 2.6.5)."""

from __future__ import annotations

import pytest

from tests.chart_tools import chart_cache
from tests.platform.conftest import EDGES
from tools.chart_values import schema_errors, unknown_keys
from tools.mock_runtime import unwrap_secrets

STACKS = ("dev", "staging", "prod")


def package(name: str, version: str):
    found = chart_cache().package(name, version)
    assert found is not None, f"{name} {version} is not in the chart cache"
    return found


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_values_key_is_known_to_the_pinned_chart(platform_runs, stack, edge):
    problems = {}
    for chart, release in platform_runs[(stack, edge)].releases().items():
        values = unwrap_secrets(release.inputs.get("values", {}))
        pkg = package(chart, release.inputs["version"])
        found = unknown_keys(pkg, values) + schema_errors(pkg, values)
        if found:
            problems[pkg.label] = found
    assert problems == {}


# --- the checker itself: the evasions it must catch and the look-alikes it must pass ----------

def test_the_old_ngf_metrics_keys_are_reported():
    ngf = package("nginx-gateway-fabric", "2.6.5")
    values = {"nginxGateway": {"metrics": {"enable": True, "service": {"create": True},
                                           "serviceMonitor": {"create": True, "endpoints": []}}}}
    assert unknown_keys(ngf, values) == ["nginxGateway.metrics.service", "nginxGateway.metrics.serviceMonitor"]


def test_a_misspelt_or_misplaced_key_is_reported_at_every_depth():
    kps = package("kube-prometheus-stack", "88.6.5")
    values = {
        "prometheus": {"prometheusSpec": {"retension": "15d"}},  # typo, two levels down
        "grafana": {"adminPasword": "x"},  # in a subchart
        "global": {"imageRegistery": "r"},  # in the shared global block
        "nodeExporter": {"hostNetwork": False},  # a subchart key put under its condition's key
    }
    assert sorted(unknown_keys(kps, values)) == [
        "global.imageRegistery", "grafana.adminPasword", "nodeExporter.hostNetwork", "prometheus.prometheusSpec.retension",
    ]


def test_keys_the_chart_reads_or_copies_verbatim_pass():
    kps = package("kube-prometheus-stack", "88.6.5")
    values = {
        # Commented out of values.yaml, read by templates/alertmanager/alertmanager.yaml.
        "alertmanager": {"alertmanagerSpec": {"configSecret": "alertmanager-config",
                                              # An operator StorageSpec, copied into the Alertmanager.
                                              "storage": {"volumeClaimTemplate": {"spec": {}}}}},
        # Maps whose keys are the user's: annotations, Kubernetes objects.
        "prometheusOperator": {"podAnnotations": {"any/key": "v"}, "securityContext": {"fsGroupChangePolicy": "OnRootMismatch"}},
        # A subchart's values, and its condition key that only the parent reads.
        "prometheus-node-exporter": {"hostNetwork": False}, "crds": {"enabled": True},
        "global": {"imageRegistry": "mirror.example.internal"},
    }
    assert unknown_keys(kps, values) == []


def test_an_empty_default_map_is_not_a_free_for_all():
    """cert-manager's `webhook.config` is `{}` but a typed object; an unnamed key under an empty
    default that no template reads is reported unless the table names it."""
    cm = package("cert-manager", "v1.21.1")
    assert unknown_keys(cm, {"webhook": {"networkPolicy": {"enabled": True, "egres": []}}}) == ["webhook.networkPolicy.egres"]


def test_schema_violations_are_reported():
    ngf = package("nginx-gateway-fabric", "2.6.5")
    assert schema_errors(ngf, {"nginxGateway": {"metrics": {"port": 70000}}})
    assert schema_errors(ngf, {"nginxGateway": {"metrics": {"port": 9113}}}) == []
