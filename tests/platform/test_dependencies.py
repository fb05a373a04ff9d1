"""Every custom resource waits for what brings its CRD; the rest of the first-`up` ordering."""

from __future__ import annotations

import kubernetes_validate
import pulumi
import pytest

from tools.mock_runtime import unwrap_secrets
from tests.platform.conftest import CERTIFICATE, CLUSTER_ISSUER, CONFIG_FILE, EDGES, GATEWAY, HTTPROUTE, NAMESPACE, STACK_CERTIFICATE

STACKS = ("dev", "staging", "prod")


def _custom_resources(run):
    """Objects of kinds Kubernetes itself does not define (no built-in schema)."""
    found = []
    for resource in run.recording.kubernetes_objects():
        try:
            kubernetes_validate.validate(unwrap_secrets(resource.inputs), "1.35.0", strict=False)
        except kubernetes_validate.SchemaNotFoundError:
            found.append(resource)
        except kubernetes_validate.ValidationError:
            pass
    return found


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_each_custom_resource_depends_on_its_crd_source(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    releases = run.releases()
    crd_sources = {"cert-manager.io": [releases["cert-manager"]], "monitoring.coreos.com": [releases["kube-prometheus-stack"]]}
    if edge == "gateway-api":
        crd_sources["gateway.networking.k8s.io"] = [run.recording.one(CONFIG_FILE)]
    custom = _custom_resources(run)
    assert custom, "expected issuers, a certificate and (gateway-api) a Gateway and route"
    for resource in custom:
        group = resource.inputs["apiVersion"].split("/")[0]
        assert group in crd_sources, f"{resource.type} has no known CRD source"
        for source in crd_sources[group]:
            assert run.depends_on(resource, source), f"{resource.name} does not wait for {source.name}"


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_api_ordering(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    crds = run.recording.one(CONFIG_FILE)
    gateway = run.recording.one(GATEWAY)
    ngf = run.releases()["nginx-gateway-fabric"]
    # The GatewayClass the Gateway names is installed by the NGF chart.
    assert run.depends_on(gateway, ngf)
    assert gateway.inputs["spec"]["gatewayClassName"] == run.values("nginx-gateway-fabric")["nginxGateway"]["gatewayClassName"]
    # NGF and cert-manager (Gateway API support on) both need the CRDs when they start.
    assert run.depends_on(ngf, crds)
    assert run.depends_on(run.releases()["cert-manager"], crds)
    # The HTTP-01 challenge is served through the Gateway, but cert-manager's self-check retries
    # until it is: the certificate does not wait for the Gateway (one serial layer less).
    certificate = run.recording.one(CERTIFICATE, STACK_CERTIFICATE)
    assert not run.depends_on(certificate, gateway)
    # The redirect route attaches whenever the Gateway appears: it waits for the CRDs only, so it
    # deploys beside the Gateway.
    redirect = run.recording.one(HTTPROUTE)
    assert run.depends_on(redirect, crds) and not run.depends_on(redirect, gateway)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_certificate_waits_for_its_issuer_and_namespace(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    certificate = run.recording.one(CERTIFICATE, STACK_CERTIFICATE)
    issuer = run.named(CLUSTER_ISSUER, certificate.inputs["spec"]["issuerRef"]["name"])
    namespace = run.named(NAMESPACE, certificate.inputs["metadata"]["namespace"])
    assert run.depends_on(certificate, issuer) and run.depends_on(certificate, namespace)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_release_installs_into_a_namespace_created_first(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    for chart, release in run.releases().items():
        assert release.inputs.get("createNamespace") in (None, False), chart
        namespace = run.named(NAMESPACE, release.inputs["namespace"])
        assert run.depends_on(release, namespace), chart


@pytest.mark.parametrize("stack", STACKS)
def test_monitoring_crds_in_the_interface_is_the_release_that_installs_them(platform_runs, stack):
    from pulumi.runtime.sync_await import _sync_await

    run = platform_runs[(stack, "gateway-api")]
    kps = run.releases()["kube-prometheus-stack"]
    assert run.values("kube-prometheus-stack")["crds"]["enabled"] is True
    assert _sync_await(run.platform.monitoring_crds.urn.future()) == kps.urn


def test_gateway_api_crds_survive_deleting_the_edge(platform_runs):
    from components.platform.edge_gateway_api import retain_on_delete

    crds = platform_runs[("prod", "gateway-api")].recording.one(CONFIG_FILE)
    assert crds.retain_on_delete
    # The provider renders the CRDs as children the mocks cannot show; the transform covers them.
    child = pulumi.ResourceTransformArgs(True, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
                                         "gateways.gateway.networking.k8s.io", {}, pulumi.ResourceOptions())
    assert retain_on_delete(child).opts.retain_on_delete is True
