"""Every Helm release: one exact chart version from a named source, sized, no secrets in values."""

from __future__ import annotations

import re

import pytest

from tests.platform.conftest import EDGES, RELEASE, dig, walk
from tools.mock_runtime import is_secret

STACKS = ("dev", "staging", "prod")
# Per chart, the values path of every workload's `resources` (the charts' own layout).
SIZED = {
    "nginx-gateway-fabric": ["nginxGateway", "nginx.container"],
    "ingress-nginx": ["controller", "controller.admissionWebhooks.createSecretJob", "controller.admissionWebhooks.patchWebhookJob"],
    "cert-manager": ["", "webhook", "cainjector", "startupapicheck"],
    "metrics-server": [""],
    "cluster-autoscaler": [""],
    "cloudnative-pg": [""],
    "plugin-barman-cloud": [""],
    "kube-prometheus-stack": [
        "prometheusOperator", "prometheusOperator.prometheusConfigReloader", "prometheusOperator.admissionWebhooks.patch",
        "prometheus.prometheusSpec", "alertmanager.alertmanagerSpec", "grafana", "grafana.sidecar",
        "kube-state-metrics", "prometheus-node-exporter",
    ],
}
EXPECTED_CHARTS = {
    # cluster-autoscaler only where the cluster needs one (EKS); metrics-server on all three.
    "dev": {"cert-manager", "kube-prometheus-stack", "metrics-server", "cloudnative-pg", "plugin-barman-cloud"},
    "staging": {"cert-manager", "kube-prometheus-stack", "metrics-server", "cloudnative-pg", "plugin-barman-cloud"},
    "prod": {"cert-manager", "kube-prometheus-stack", "metrics-server", "cluster-autoscaler", "cloudnative-pg",
             "plugin-barman-cloud"},
}
EDGE_CHART = {"gateway-api": "nginx-gateway-fabric", "ingress-nginx": "ingress-nginx"}


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_installs_the_expected_charts(platform_runs, stack, edge):
    assert set(platform_runs[(stack, edge)].releases()) == EXPECTED_CHARTS[stack] | {EDGE_CHART[edge]}


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_versions_are_exact_and_sources_named(platform_runs, stack, edge):
    for chart, release in platform_runs[(stack, edge)].releases().items():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", release.inputs["version"]), chart
        if release.inputs["chart"].startswith("oci://"):
            assert "repositoryOpts" not in release.inputs, chart  # helm takes OCI charts by full reference
        else:
            assert release.inputs["repositoryOpts"]["repo"].startswith("https://"), chart


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_chart_workload_has_requests_and_limits(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    for chart in run.releases():
        values = run.values(chart)
        for path in SIZED[chart]:
            resources = (dig(values, path) if path else values)["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[kind]), f"{chart}:{path}.resources.{kind}"


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_no_helm_value_holds_a_secret(platform_runs, stack, edge):
    """Secrets reach charts through Kubernetes Secrets, never through Helm values (stored in plain text)."""
    for release in platform_runs[(stack, edge)].recording.of_type(RELEASE):
        assert not [p for p, node in walk(release.inputs.get("values", {})) if is_secret(node)], release.name
