"""platform.chartMirror: every release from the one repository or registry the user runs.

Expected chart names are the upstream projects' own names (their Chart.yaml `name`), as a
mirror built with `helm pull` + `helm repo index` (or `helm push` to OCI) serves them.
"""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.conftest import edge_overrides, secret_keys, stack_config
from tests.platform.conftest import EDGES, RELEASE, run_platform
from tools.mock_runtime import Recording, run_program

UPSTREAM_NAMES = {
    "cert-manager", "nginx-gateway-fabric", "ingress-nginx", "kube-prometheus-stack", "metrics-server",
    "cloudnative-pg", "plugin-barman-cloud", "cluster-autoscaler",
}
HTTPS_MIRROR = "https://charts.example.internal/stable"
OCI_MIRROR = "oci://registry.example.internal/helm-charts"


def releases(stack: str, edge: str, mirror: str):
    run = run_platform(stack, {**edge_overrides(edge), "platform.chartMirror": mirror})
    return run.recording.of_type(RELEASE)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_a_helm_repository_mirror_serves_every_release(stack, edge):
    found = releases(stack, edge, HTTPS_MIRROR)
    assert found
    upstream = {r.inputs["chart"].rsplit("/", 1)[-1]: r.inputs["version"] for r in run_platform(stack, edge_overrides(edge)).recording.of_type(RELEASE)}
    for release in found:
        assert release.inputs["chart"] in UPSTREAM_NAMES, release.name
        assert release.inputs["repositoryOpts"] == {"repo": HTTPS_MIRROR}, release.name
        # Same pinned version as upstream: a mirror changes the source, never the chart.
        assert release.inputs["version"] == upstream[release.inputs["chart"]], release.name


@pytest.mark.parametrize("edge", EDGES)
def test_an_oci_mirror_takes_every_chart_by_full_reference(edge):
    for release in releases("prod", edge, OCI_MIRROR + "/"):  # the trailing slash is not doubled
        name = release.inputs["chart"].removeprefix(OCI_MIRROR + "/")
        assert name in UPSTREAM_NAMES, release.inputs["chart"]
        assert "repositoryOpts" not in release.inputs, release.name


def test_without_a_mirror_no_release_points_at_one():
    for release in run_platform("prod").recording.of_type(RELEASE):
        source = release.inputs.get("repositoryOpts", {}).get("repo", release.inputs["chart"])
        assert "example.internal" not in source


def test_plain_http_is_accepted_in_dev_and_on_loopback():
    """The local e2e serves ../shared/charts on 127.0.0.1; a dev cluster's repo may be plain http."""
    for stack, mirror in [("dev", "http://charts.lan:8080"), ("prod", "http://127.0.0.1:8879/charts")]:
        for release in releases(stack, "gateway-api", mirror):
            assert release.inputs["repositoryOpts"] == {"repo": mirror}


BAD = [
    ("prod", "ftp://charts.example.internal",
     "tradesense:platform.chartMirror must start with https://, http:// or oci:// (got 'ftp://charts.example.internal'); "
     "e.g. https://charts.example.internal/stable or oci://registry.example.internal/charts"),
    ("dev", "charts.example.internal/stable",
     "tradesense:platform.chartMirror must start with https://, http:// or oci:// (got 'charts.example.internal/stable'); "
     "e.g. https://charts.example.internal/stable or oci://registry.example.internal/charts"),
    ("prod", "https://ci:hunter2@charts.example.internal",
     "tradesense:platform.chartMirror must not hold credentials (they would sit in plain text in the stack file and "
     "state): log in with `helm registry login` or the provider's Helm configuration instead"),
    ("staging", "http://charts.example.internal",
     "tradesense:platform.chartMirror must use https:// or oci:// in staging: a chart fetched over plain http can be "
     "swapped in transit, and it runs with cluster-admin rights"),
    ("prod", "https://charts.example.internal/?token=x",
     "tradesense:platform.chartMirror must not have a query or fragment: charts are looked up under its path "
     "(a token belongs in Helm's credentials, not the URL)"),
    ("prod", "ftp://ci:hunter2@charts.example.internal",
     "tradesense:platform.chartMirror must start with https://, http:// or oci:// (got 'ftp://***@charts.example.internal'); "
     "e.g. https://charts.example.internal/stable or oci://registry.example.internal/charts"),
    ("prod", "https://charts.example.internal:99999",
     "tradesense:platform.chartMirror is not a valid URL (got 'https://charts.example.internal:99999'); "
     "e.g. https://charts.example.internal/stable or oci://registry.example.internal/charts"),
    ("prod", "oci:///charts",
     "tradesense:platform.chartMirror must name a host (got 'oci:///charts'); "
     "e.g. https://charts.example.internal/stable or oci://registry.example.internal/charts"),
]


@pytest.mark.parametrize("stack,mirror,expected", BAD)
def test_a_bad_chart_mirror_is_named_with_its_fix_before_any_resource(stack, mirror, expected):
    recording = Recording(stack=stack)
    config = stack_config(stack, {"platform.chartMirror": mirror})
    with pytest.raises(ConfigError) as info:
        run_program(config, stack, recording=recording, secret_keys=secret_keys(config))
    assert [p for p in info.value.problems if "chartMirror" in p] == [expected]
    # Neither a credential nor a token reaches the message.
    assert "hunter2" not in str(info.value) and "token=x" not in str(info.value)
    assert recording.resources == []
