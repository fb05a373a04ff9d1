"""Every rendered object passes Kubernetes 1.35 strict schema validation; HTTPRoutes (a CRD the
validator has no schema for) are checked against the Gateway API v1 shape by hand."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from tests.app.k8s import APP_NAMESPACE, manifest, objects
from tests.conftest import STACKS

KUBERNETES_VERSION = "1.35.0"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
HOSTNAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize("stack", STACKS)
def test_every_app_object_passes_strict_schema_validation(recordings, stack):
    validated = 0
    for resource in objects(recordings[stack]):
        body = manifest(resource)
        if body["apiVersion"].startswith(("gateway.networking.k8s.io/", "monitoring.coreos.com/", "postgresql.cnpg.io/",
                                          "barmancloud.cnpg.io/")):
            continue  # CRDs: HTTPRoutes are checked below, monitoring objects in test_observability, CNPG in test_postgres
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
        validated += 1
    # Deployments, StatefulSets, Services, Secrets, NetworkPolicies, HPAs, PDBs, a Job...
    assert validated >= 25


def test_ingress_variant_passes_strict_schema_validation(stub_run):
    rec = stub_run("prod", "ingress-nginx")
    ingresses = objects(rec, "Ingress")
    assert len(ingresses) == 1
    for resource in objects(rec):
        if not manifest(resource)["apiVersion"].startswith(("monitoring.coreos.com/", "postgresql.cnpg.io/", "barmancloud.cnpg.io/")):
            kubernetes_validate.validate(manifest(resource), KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_what_the_api_server_would(recordings):
    """Guard against a validator that accepts anything (a misspelt field must fail strictly)."""
    deployment = manifest(objects(recordings["prod"], "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("stack", STACKS)
def test_every_app_object_is_explicitly_named_in_the_app_namespace(recordings, stack):
    app_objects = [r for r in recordings[stack].kubernetes_objects() if r.type.startswith("kubernetes:") and "tradesense:app:" in r.urn]
    assert app_objects
    for resource in app_objects:
        meta = resource.inputs["metadata"]
        assert DNS_LABEL.match(meta.get("name", "")), f"{resource.name} has no explicit DNS-label name"
        assert meta.get("namespace") == APP_NAMESPACE, f"{resource.name} is not in {APP_NAMESPACE}"


def check_http_route(route: dict) -> None:
    """Gateway API v1 HTTPRoute, the parts this program uses (standard channel, v1.x)."""
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["kind"] == "HTTPRoute"
    assert set(route) <= {"apiVersion", "kind", "metadata", "spec"}
    assert DNS_LABEL.match(route["metadata"]["name"]) and route["metadata"]["namespace"]
    spec = route["spec"]
    assert set(spec) <= {"parentRefs", "hostnames", "rules"}
    assert 1 <= len(spec["parentRefs"]) <= 32
    for parent in spec["parentRefs"]:
        assert set(parent) <= {"group", "kind", "namespace", "name", "sectionName", "port"}
        assert parent.get("group", "gateway.networking.k8s.io") == "gateway.networking.k8s.io"
        assert parent.get("kind", "Gateway") == "Gateway"
        assert DNS_LABEL.match(parent["name"])
        if "sectionName" in parent:
            assert re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", parent["sectionName"])
    assert 1 <= len(spec["hostnames"]) <= 16
    assert all(HOSTNAME.match(h) for h in spec["hostnames"])
    assert 1 <= len(spec["rules"]) <= 16
    for rule in spec["rules"]:
        assert set(rule) <= {"name", "matches", "filters", "backendRefs", "timeouts"}
        for match in rule["matches"]:
            assert match["path"]["type"] in ("Exact", "PathPrefix", "RegularExpression")
            assert match["path"]["value"].startswith("/")
        assert len(rule.get("filters", [])) <= 16
        for flt in rule.get("filters", []):
            assert flt["type"] in ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
                                   "RequestRedirect", "URLRewrite", "ExtensionRef")
            if flt["type"] == "ResponseHeaderModifier":
                modifier = flt["responseHeaderModifier"]
                assert set(modifier) <= {"set", "add", "remove"}
                assert 1 <= len(modifier.get("set", [])) <= 16
                assert all(set(h) == {"name", "value"} and re.match(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$", h["name"])
                           for h in modifier.get("set", []))
        for ref in rule["backendRefs"]:
            assert set(ref) <= {"group", "kind", "name", "namespace", "port", "weight", "filters"}
            assert ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""
            assert isinstance(ref["port"], (int, float)) and 1 <= ref["port"] <= 65535


@pytest.mark.parametrize("stack", STACKS)
def test_http_routes_have_the_gateway_api_v1_shape(recordings, stack):
    routes = [manifest(r) for r in objects(recordings[stack], "HTTPRoute")]
    assert len(routes) == 2
    for route in routes:
        check_http_route(route)


def test_the_hand_check_rejects_a_malformed_route(recordings):
    route = manifest(objects(recordings["prod"], "HTTPRoute")[0])
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"  # Ingress vocabulary, not Gateway API
    with pytest.raises(AssertionError):
        check_http_route(route)
