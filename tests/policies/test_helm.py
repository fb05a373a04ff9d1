"""Helm releases pin an exact chart version and a repository."""

from __future__ import annotations

import pytest

from .fixtures import UNKNOWN, make_resource, messages, run

RULE = "k8s-helm-release-require-pinned-chart"


def release(type_="kubernetes:helm.sh/v3:Release", **inputs):
    base = {"chart": "cert-manager", "version": "v1.16.2", "namespace": "cert-manager",
            "repositoryOpts": {"repo": "https://charts.jetstack.io"}, "values": {"crds": {"enabled": True}}}
    base.update(inputs)
    return make_resource(type_, "cert-manager", {k: v for k, v in base.items() if v is not None}, custom=type_.endswith("Release"))


@pytest.mark.parametrize(
    "resource",
    [release(), release(chart="oci://ghcr.io/nginx/charts/nginx-gateway-fabric", repositoryOpts=None, version="1.5.1"),
     release(chart="./charts/tradesense", version=None, repositoryOpts=None),
     release("kubernetes:helm.sh/v4:Chart")],
    ids=["repo+version", "oci", "vendored", "helm-v4-chart"],
)
def test_compliant(resource):
    assert run(RULE, [resource]) == []


@pytest.mark.parametrize(
    "resource,expected",
    [
        (release(version=None), "has no version"),
        (release(version="^1.16.0"), "version range '^1.16.0'"),
        (release(version="1.x"), "version range '1.x'"),
        (release(repositoryOpts=None), "names no repository"),
        (release("kubernetes:helm.sh/v4:Chart", version=None), "has no version"),
    ],
    ids=["no-version", "caret-range", "x-range", "no-repo", "v4-no-version"],
)
def test_violation(resource, expected):
    found = run(RULE, [resource])
    assert found and found[0].enforcement == "mandatory"
    assert expected in messages(found) and "cert-manager" in messages(found)


def test_unknown_values():
    assert run(RULE, [release(version=UNKNOWN)]) == []
    assert run(RULE, [release(repositoryOpts={"repo": UNKNOWN})]) == []
    assert run(RULE, [release(chart=UNKNOWN)]) == []
