"""cert-manager: pinned chart with CRDs, Let's Encrypt issuers through the edge, the certificate."""

from __future__ import annotations

import re

import pytest

from tests.platform.conftest import CERTIFICATE, CLUSTER_ISSUER, EDGES, GATEWAY, LETS_ENCRYPT, STACK_CERTIFICATE, stack_file

# The deployment guide's certificate (SSL/TLS Configuration).
GUIDE_PROD_DNS_NAMES = ["tradesense.com", "www.tradesense.com", "api.tradesense.com"]


def _issuers(run) -> dict:
    return {r.inputs["metadata"]["name"]: r for r in run.recording.of_type(CLUSTER_ISSUER)}


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_cert_manager_release_is_pinned_with_crds(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    release = run.releases()["cert-manager"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", release.inputs["version"])
    assert release.inputs["repositoryOpts"]["repo"].startswith("https://")
    assert run.values("cert-manager")["crds"]["enabled"] is True
    values = run.values("cert-manager")
    gateway_support = values.get("config", {}).get("enableGatewayAPI", False)
    assert gateway_support is (edge == "gateway-api")
    # The ControllerConfiguration field, not the deprecated --feature-gates / --enable-gateway-api args.
    assert not [a for a in values.get("extraArgs", []) if "gateway" in a.lower()]
    if gateway_support:
        assert values["config"]["kind"] == "ControllerConfiguration"


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_lets_encrypt_issuers_solve_http01_through_the_selected_edge(platform_runs, stack, edge):
    run = platform_runs[(stack, edge)]
    issuers = _issuers(run)
    assert set(LETS_ENCRYPT) <= set(issuers)
    email = stack_file(stack)["tradesense:platform"]["acmeEmail"]
    for name, server in LETS_ENCRYPT.items():
        acme = issuers[name].inputs["spec"]["acme"]
        assert acme["server"] == server
        assert acme["email"] == email
        # One solver for every name (HTTP-01); a DNS-01 one only for names its selector lists.
        (solver,) = [s for s in acme["solvers"] if "selector" not in s]
        http01 = solver["http01"]
        if edge == "gateway-api":
            gateway = run.recording.one(GATEWAY).inputs
            (parent,) = http01["gatewayHTTPRoute"]["parentRefs"]
            assert (parent["name"], parent["namespace"]) == (gateway["metadata"]["name"], gateway["metadata"]["namespace"])
            listener = next(l for l in gateway["spec"]["listeners"] if l["name"] == parent["sectionName"])
            assert (listener["protocol"], listener["port"]) == ("HTTP", 80)
        else:
            ingress_class = run.values("ingress-nginx")["controller"]["ingressClassResource"]["name"]
            assert http01 == {"ingress": {"ingressClassName": ingress_class}}


@pytest.mark.parametrize("edge", EDGES)
def test_dev_uses_a_self_signed_issuer(platform_runs, edge):
    run = platform_runs[("dev", edge)]
    issuers = _issuers(run)
    (self_signed,) = [r for r in issuers.values() if r.inputs["spec"] == {"selfSigned": {}}]
    assert not [r for r in issuers.values() if "acme" in r.inputs["spec"]]
    cert = run.recording.one(CERTIFICATE, STACK_CERTIFICATE).inputs["spec"]
    assert cert["issuerRef"]["name"] == self_signed.inputs["metadata"]["name"]
    assert cert["dnsNames"] == ["tradesense.localhost", "www.tradesense.localhost", "api.tradesense.localhost"]


@pytest.mark.parametrize("edge", EDGES)
def test_prod_certificate_is_the_guides_from_letsencrypt_prod(platform_runs, edge):
    run = platform_runs[("prod", edge)]
    cert = run.recording.one(CERTIFICATE, STACK_CERTIFICATE).inputs
    assert cert["spec"]["dnsNames"] == GUIDE_PROD_DNS_NAMES
    assert cert["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-prod"}
    assert cert["spec"]["secretName"] == run.platform.tls_secret_name
    assert cert["metadata"]["namespace"] == run.platform.tls_secret_namespace
    # ingress-nginx reads an Ingress's TLS Secret from the Ingress's (the app's) namespace.
    if edge == "ingress-nginx":
        assert cert["metadata"]["namespace"] == "tradesense"


def test_staging_certificate_covers_its_own_hostnames(platform_runs):
    cert = platform_runs[("staging", "gateway-api")].recording.one(CERTIFICATE, STACK_CERTIFICATE).inputs["spec"]
    domain = stack_file("staging")["tradesense:platform"]["domain"]
    assert domain != "tradesense.com"
    assert cert["dnsNames"] == [domain, f"www.{domain}", f"api.{domain}"]
    assert cert["issuerRef"]["name"] == "letsencrypt-prod"


def test_no_claim_that_lets_encrypt_emails_expiry_notices():
    # Let's Encrypt stopped expiry emails in 2025: certificate expiry is the monitoring's job.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    claim = re.compile(r"(expir\w*|renewal)\s+(notice|e-?mail|reminder)s?", re.IGNORECASE)
    files = [root / "README.md", *(root / "docs").rglob("*.md"), *(root / "components").rglob("*.py"), *root.glob("Pulumi.*.yaml")]
    lines = [(p, line) for p in files if p.exists() for line in p.read_text().splitlines()]
    # The only mentions allowed are those saying they stopped.
    negation = re.compile(r"\b(stopped|no longer)\b", re.IGNORECASE)
    found = [f"{p.relative_to(root)}: {line.strip()}" for p, line in lines if claim.search(line) and not negation.search(line)]
    assert found == []
    assert claim.search("Let's Encrypt sends expiry notices there")  # the claim that was removed
