"""Apex and www -> frontend, /api on the apex and api.<domain> -> backend, over the platform's
TLS, with the security headers on every response."""

from __future__ import annotations

import pytest

from tests.app import platform_stub
from tests.app.conftest import stack_domain
from tests.app.k8s import manifest, named, objects, resource_of
from tests.conftest import STACKS, edge_overrides, run_stack

GUIDE_HEADERS = {"Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"}


def routes(rec) -> list[dict]:
    return [manifest(r) for r in objects(rec, "HTTPRoute")]


def route_table(http_routes: list[dict]) -> dict[tuple[str, str], str]:
    """(host, path prefix) -> backend Service name."""
    table = {}
    for route in http_routes:
        for host in route["spec"]["hostnames"]:
            for rule in route["spec"]["rules"]:
                for match in rule["matches"]:
                    (ref,) = rule["backendRefs"]
                    table[(host, match["path"]["value"])] = ref["name"]
    return table


def service_port(rec, name: str) -> int:
    (port,) = named(rec, "Service", name)["spec"]["ports"]
    return port["port"]


@pytest.mark.parametrize("stack", STACKS)
def test_hosts_and_paths_reach_the_right_service(recordings, stack):
    rec = recordings[stack]
    apex = stack_domain(stack)
    assert route_table(routes(rec)) == {
        (apex, "/"): "frontend",
        (f"www.{apex}", "/"): "frontend",
        (apex, "/api"): "backend",
        (f"www.{apex}", "/api"): "backend",
        (f"api.{apex}", "/"): "backend",
    }
    for route in routes(rec):
        for rule in route["spec"]["rules"]:
            for ref in rule["backendRefs"]:
                assert ref["port"] == service_port(rec, ref["name"])  # a real Service and port


@pytest.mark.parametrize("stack", STACKS)
def test_routes_attach_to_the_gateway_https_listeners_for_their_hosts(recordings, stack):
    rec = recordings[stack]
    (gateway_resource,) = objects(rec, "Gateway", namespace=None)
    gateway = manifest(gateway_resource)
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    for route in routes(rec):
        assert route["metadata"]["namespace"] == "tradesense"
        for parent in route["spec"]["parentRefs"]:
            assert (parent["name"], parent["namespace"]) == (gateway["metadata"]["name"], gateway["metadata"]["namespace"])
            listener = listeners[parent["sectionName"]]
            assert listener["protocol"] == "HTTPS"  # never the plain-HTTP listener
            assert listener["hostname"] in route["spec"]["hostnames"]
            allowed = listener["allowedRoutes"]["namespaces"]
            assert allowed["from"] == "All" or (
                allowed["from"] == "Selector"
                and allowed["selector"]["matchLabels"] == {"kubernetes.io/metadata.name": "tradesense"}
            )
        hosts_served = {listeners[p["sectionName"]]["hostname"] for p in route["spec"]["parentRefs"]}
        assert hosts_served == set(route["spec"]["hostnames"])
        # A route needs only its CRD; it attaches whenever the Gateway is programmed, so waiting
        # for the Gateway would only add a serial layer.
        route_deps = resource_of(rec, "HTTPRoute", route["metadata"]["name"]).dependencies
        assert any(urn.endswith("ConfigFile::platform-edge-gateway-api-crds") for urn in route_deps)
        assert gateway_resource.urn not in route_deps


@pytest.mark.parametrize("stack", STACKS)
def test_every_rule_sets_the_security_headers(recordings, stack):
    for route in routes(recordings[stack]):
        for rule in route["spec"]["rules"]:
            set_headers = {h["name"] for f in rule["filters"] if f["type"] == "ResponseHeaderModifier"
                           for h in f["responseHeaderModifier"]["set"]}
            assert GUIDE_HEADERS <= set_headers


def test_routes_use_the_platform_filter(stub_run):
    for route in routes(stub_run("prod")):
        for rule in route["spec"]["rules"]:
            assert rule["filters"] == [platform_stub.HEADERS_FILTER]


def test_routes_use_the_platform_gateway_and_sections(stub_run):
    rec = stub_run("prod")
    sections = {tuple(sorted(p["sectionName"] for p in r["spec"]["parentRefs"])): r["spec"]["hostnames"] for r in routes(rec)}
    assert sections == {
        ("https-apex", "https-www"): [platform_stub.DOMAIN, f"www.{platform_stub.DOMAIN}"],
        ("https-api",): [f"api.{platform_stub.DOMAIN}"],
    }
    for route in routes(rec):
        for parent in route["spec"]["parentRefs"]:
            assert (parent["name"], parent["namespace"]) == (platform_stub.GATEWAY_NAME, platform_stub.EDGE_NAMESPACE)


def test_ingress_nginx_gets_one_tls_ingress(stub_run):
    rec = stub_run("prod", "ingress-nginx")
    assert routes(rec) == []
    (ingress_resource,) = objects(rec, "Ingress")
    ingress = manifest(ingress_resource)["spec"]
    apex = platform_stub.DOMAIN
    assert ingress["ingressClassName"] == "nginx"
    (tls,) = ingress["tls"]
    assert tls["secretName"] == "tradesense-tls"
    table = {}
    for rule in ingress["rules"]:
        assert rule["host"] in tls["hosts"]
        for path in rule["http"]["paths"]:
            table[(rule["host"], path["path"])] = path["backend"]["service"]["name"]
            assert path["pathType"] == "Prefix"
            assert path["backend"]["service"]["port"]["number"] == service_port(rec, path["backend"]["service"]["name"])
    assert table == {(apex, "/"): "frontend", (apex, "/api"): "backend",
                     (f"www.{apex}", "/"): "frontend", (f"api.{apex}", "/"): "backend"}
    # No snippet annotations: headers come from the controller.
    assert not any("snippet" in key for key in manifest(ingress_resource)["metadata"].get("annotations", {}))


def test_ingress_nginx_with_the_real_platform():
    rec = run_stack("staging", edge_overrides("ingress-nginx"))
    (ingress_resource,) = objects(rec, "Ingress")
    (tls,) = manifest(ingress_resource)["spec"]["tls"]
    domain = stack_domain("staging")
    assert set(tls["hosts"]) == {domain, f"www.{domain}", f"api.{domain}"}
    # The certificate the platform issues lands in the Ingress's namespace under that name.
    certificates = [manifest(r) for r in objects(rec, "Certificate", namespace=None)]
    assert any(c["spec"]["secretName"] == tls["secretName"] and c["metadata"]["namespace"] == "tradesense" for c in certificates)


def test_ingress_refuses_a_tls_secret_from_another_namespace(stub_run):
    with pytest.raises(Exception, match="must be in the app namespace"):
        stub_run("prod", "ingress-nginx", tls_secret_namespace="edge-system")
