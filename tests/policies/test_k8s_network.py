"""Service exposure, Ingress TLS and Gateway listener TLS."""

from __future__ import annotations

import pytest

from .fixtures import DELETE, UNKNOWN, k8s, messages, run

SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"


def service(name="backend", namespace="tradesense", type_="ClusterIP"):
    spec = {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": 80, "targetPort": 8000}]}
    if type_ is not DELETE:
        spec["type"] = type_
    return k8s(SERVICE, name, {"spec": spec}, namespace=namespace)


@pytest.mark.parametrize(
    "resource",
    [service(), service(type_=DELETE), service("nginx-gateway", "nginx-gateway", "LoadBalancer"),
     service("ingress-nginx-controller", "ingress-nginx", "LoadBalancer")],
    ids=["clusterip", "default-type", "nginx-gateway-lb", "ingress-nginx-lb"],
)
def test_service_compliant(resource):
    assert run("k8s-service-restrict-load-balancer-and-node-port", [resource]) == []


@pytest.mark.parametrize("type_", ["LoadBalancer", "NodePort"])
def test_service_violation(type_):
    found = run("k8s-service-restrict-load-balancer-and-node-port", [service(type_=type_)])
    assert found[0].enforcement == "mandatory"
    assert f"Service tradesense/backend is of type {type_}" in messages(found)


def test_service_allow_list_option_and_unknowns():
    config = {"k8s-service-restrict-load-balancer-and-node-port": {"allowedServices": ["tradesense/backend"]}}
    assert run("k8s-service-restrict-load-balancer-and-node-port", [service(type_="LoadBalancer")], config) == []
    assert run("k8s-service-restrict-load-balancer-and-node-port", [service(type_=UNKNOWN)]) == []
    assert run("k8s-service-restrict-load-balancer-and-node-port", [service(namespace=UNKNOWN, type_="LoadBalancer")]) == []


def ingress(tls=({"hosts": ["app.tradesense.example"], "secretName": "app-tls"},), hosts=("app.tradesense.example",)):
    spec = {"ingressClassName": "nginx", "rules": [{"host": h, "http": {"paths": []}} for h in hosts]}
    if tls is not None:
        spec["tls"] = list(tls)
    return k8s(INGRESS, "web", {"spec": spec})


def test_ingress_compliant():
    assert run("k8s-ingress-require-tls", [ingress()]) == []
    wildcard = ingress(tls=[{"hosts": ["*.tradesense.example"], "secretName": "wild"}], hosts=["api.tradesense.example"])
    assert run("k8s-ingress-require-tls", [wildcard]) == []


@pytest.mark.parametrize(
    "resource,expected",
    [
        (ingress(tls=None), "has no spec.tls"),
        (ingress(hosts=["app.tradesense.example", "admin.tradesense.example"]), "host admin.tradesense.example is not covered"),
    ],
    ids=["no-tls", "uncovered-host"],
)
def test_ingress_violation(resource, expected):
    assert expected in messages(run("k8s-ingress-require-tls", [resource]))


def test_ingress_unknown_tls():
    assert run("k8s-ingress-require-tls", [ingress(tls=UNKNOWN)]) == []
    assert run("k8s-ingress-require-tls", [ingress(tls=[{"hosts": UNKNOWN, "secretName": "x"}])]) == []


def gateway(listeners):
    return k8s(GATEWAY, "edge", {"spec": {"gatewayClassName": "nginx", "listeners": listeners}}, namespace="nginx-gateway")


HTTP = {"name": "http", "protocol": "HTTP", "port": 80}
HTTPS = {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "app.tradesense.example",
         "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "app-tls"}]}}


def test_gateway_compliant():
    assert run("k8s-gateway-require-https-listener-tls", [gateway([HTTP, HTTPS])]) == []


@pytest.mark.parametrize(
    "listeners,expected",
    [
        ([HTTP, {**HTTPS, "tls": {"mode": "Terminate"}}], "listener 'https' (HTTPS) has no tls.certificateRefs"),
        ([HTTP, {k: v for k, v in HTTPS.items() if k != "tls"}], "has no tls.certificateRefs"),
        ([HTTP], "has no HTTPS listener"),
    ],
    ids=["no-certificate-refs", "no-tls-block", "http-only"],
)
def test_gateway_violation(listeners, expected):
    found = run("k8s-gateway-require-https-listener-tls", [gateway(listeners)])
    assert expected in messages(found) and "Gateway nginx-gateway/edge" in messages(found)


def test_gateway_unknown_certificate_refs():
    listener = {**HTTPS, "tls": {"mode": "Terminate", "certificateRefs": UNKNOWN}}
    assert run("k8s-gateway-require-https-listener-tls", [gateway([HTTP, listener])]) == []
    assert run("k8s-gateway-require-https-listener-tls", [gateway(UNKNOWN)]) == []
