"""The PlatformInterface the app layer builds on matches what the platform registered."""

from __future__ import annotations

import pytest
from pulumi.runtime.sync_await import _sync_await

from tests.platform.conftest import EDGES, GATEWAY, NAMESPACE, stack_file


def _urn(resource) -> str:
    return _sync_await(resource.urn.future())


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_hostnames_namespaces_and_tls(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    p = run.platform
    domain = stack_file(stack)["tradesense:platform"]["domain"]
    assert p.domain == domain
    assert p.hostnames == (domain, f"www.{domain}", f"api.{domain}")
    assert p.api_hostname == f"api.{domain}"
    assert (p.app_namespace, p.monitoring_namespace) == ("tradesense", "monitoring")
    recorded = {r.inputs["metadata"]["name"]: r.urn for r in run.recording.of_type(NAMESPACE)}
    assert {name: _urn(ns) for name, ns in p.namespaces.items()} == recorded
    assert p.edge.kind == edge
    assert p.edge.namespace in recorded
    assert p.edge.pod_labels
    assert dict(p.prometheus_pod_labels) == {"app.kubernetes.io/name": "prometheus"}
    assert {_urn(r) for r in p.edge.ready} <= {r.urn for r in run.recording.resources}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_gateway_fields_name_the_recorded_gateway(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    edge = run.platform.edge
    gateway = run.recording.one(GATEWAY).inputs
    assert (edge.gateway_name, edge.namespace) == (gateway["metadata"]["name"], gateway["metadata"]["namespace"])
    https = [l["name"] for l in gateway["spec"]["listeners"] if l["protocol"] == "HTTPS" and not l["hostname"].startswith("*.")]
    assert list(edge.https_sections) == https and len(https) == 3
    assert edge.ingress_class is None
    # Data-plane pods carry the Gateway API standard gateway-name label (GEP-1762).
    assert dict(edge.pod_labels) == {"gateway.networking.k8s.io/gateway-name": gateway["metadata"]["name"]}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_ingress_fields_name_the_recorded_ingress_class(platform_runs, stack):
    run = platform_runs[(stack, "ingress-nginx")]
    edge = run.platform.edge
    assert edge.ingress_class == run.values("ingress-nginx")["controller"]["ingressClassResource"]["name"]
    assert edge.gateway_name is None and edge.https_sections == () and edge.response_headers_filter is None
    assert edge.pod_labels["app.kubernetes.io/name"] == "ingress-nginx"
