"""The review admission allowlist against the real CRD schemas of the pinned charts (the chart cache, tests/chart_tools.py):
every refused field exists (a `has()` of a field the schema lacks can never match: the dead
`authorization.credentialsFile` guard of issue 21), and refused + admitted is the whole schema, so a
chart upgrade that adds a field fails here until someone classifies it."""

from __future__ import annotations

from tests.chart_tools import chart_cache

import io
import re
import tarfile
from pathlib import Path

import pytest
import yaml

from components.platform.review_admission import DEFAULTED, REFUSED_FIELDS

CHARTS = {
    "ServiceMonitor": ("kube-prometheus-stack-88.5.3.tgz", "kube-prometheus-stack/charts/crds/crds/crd-servicemonitors.yaml"),
    "PrometheusRule": ("kube-prometheus-stack-88.5.3.tgz", "kube-prometheus-stack/charts/crds/crds/crd-prometheusrules.yaml"),
    "Cluster": ("cloudnative-pg-0.29.0.tgz", "cloudnative-pg/templates/crds/crds.yaml"),
    "HTTPRoute": ("gateway-api-standard-install-v1.5.1.tgz", "gateway-api-v1.5.1/standard-install.yaml"),
}
# What a review object may set at each path: the allowlist, as docs/REVIEW_ENVIRONMENTS.md states it.
ADMITTED = {
    "ServiceMonitor.spec": {"endpoints", "namespaceSelector", "selector"},
    "ServiceMonitor.spec.endpoints[]": {"interval", "path", "port", "relabelings", "scheme", "scrapeTimeout"},
    "ServiceMonitor.spec.endpoints[].relabelings[]": {"action", "regex", "replacement", "separator", "sourceLabels", "targetLabel"},
    "PrometheusRule.spec.groups[]": {"interval", "name", "rules"},
    "Cluster.spec": {"affinity", "bootstrap", "enableSuperuserAccess", "imageName", "inheritedMetadata", "instances",
                     "postgresql", "primaryUpdateStrategy", "replicationSlots", "resources", "storage"},
    "Cluster.spec.bootstrap": {"initdb"},
    "HTTPRoute.spec.rules[]": {"backendRefs", "filters", "matches", "name"},
    "HTTPRoute.spec.rules[].backendRefs[]": {"name", "port", "weight"},
    "HTTPRoute.spec.parentRefs[]": {"group", "kind", "name", "namespace", "sectionName"},
}


def shared_charts() -> Path:
    return chart_cache().directory


def crd_schemas(kind: str) -> list[dict]:
    """The openAPIV3Schema of every served version of `kind`'s CRD in the pinned chart."""
    package, member = CHARTS[kind]
    with tarfile.open(shared_charts() / package) as tar:
        text = tar.extractfile(member).read().decode()
    text = re.sub(r"^\{\{.*\}\}\s*$", "", text, flags=re.M)  # the chart's `{{- if .Values.crds.create }}`
    for doc in yaml.safe_load_all(io.StringIO(text)):
        if doc and doc.get("kind") == "CustomResourceDefinition" and doc["spec"]["names"]["kind"] == kind:
            return [v["schema"]["openAPIV3Schema"] for v in doc["spec"]["versions"] if v.get("served")]
    raise AssertionError(f"no CRD for {kind} in {package}")


def node_at(schema: dict, path: list[str]) -> dict:
    node = schema
    for step in path:
        node = node["properties"][step.removesuffix("[]")]
        if step.endswith("[]"):
            node = node["items"]
    return node


def fields_at(schema: dict, path: list[str]) -> set[str]:
    return set(node_at(schema, path)["properties"])


@pytest.mark.parametrize("where", sorted(ADMITTED))
def test_refused_and_admitted_fields_are_exactly_the_crd_schema(where):
    kind, *path = where.split(".")
    refused = set(REFUSED_FIELDS[where])
    assert not refused & ADMITTED[where]
    for schema in crd_schemas(kind):
        fields = fields_at(schema, path)
        assert refused <= fields, f"{where}: not in the installed CRD (a guard that can never match): {sorted(refused - fields)}"
        assert fields - refused == ADMITTED[where], f"{where}: unclassified fields {sorted(fields - refused - ADMITTED[where])}"


@pytest.mark.parametrize("where", sorted(ADMITTED))
def test_every_refused_field_the_crd_defaults_is_admitted_at_exactly_that_default(where):
    """The API server writes schema defaults before admission (a review plan's Cluster came back
    with enablePDB, logLevel, ... it never set), so each refused field's default must be in
    DEFAULTED, at the schema's value, and DEFAULTED holds nothing else."""
    kind, *path = where.split(".")
    for schema in crd_schemas(kind):
        properties = node_at(schema, path)["properties"]
        schema_defaults = {f: properties[f]["default"] for f in REFUSED_FIELDS[where] if "default" in properties[f]}
        assert dict(DEFAULTED.get(where, {})) == schema_defaults, where


def test_every_refused_path_is_checked_here():
    assert set(REFUSED_FIELDS) == set(ADMITTED)


def test_the_dead_guard_is_caught():
    """Control: the clause issue 21 found dead names a field this schema check rejects."""
    (schema, *_) = crd_schemas("ServiceMonitor")
    assert "credentialsFile" not in fields_at(schema, ["spec", "endpoints[]", "authorization"])
    assert {"credentials", "type"} == fields_at(schema, ["spec", "endpoints[]", "authorization"])
