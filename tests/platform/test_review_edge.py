"""The edge of a stack that hosts review environments: a wildcard listener and certificate, DNS-01
for the wildcard only, and the provider token reaching cert-manager only as a Pulumi secret."""

from __future__ import annotations

import pytest

from components.platform.dns01 import dns01_solver
from tests.conftest import TEST_SECRETS
from tests.platform.conftest import CERTIFICATE, CLUSTER_ISSUER, GATEWAY, HTTPROUTE, SECRET, as_json, run_platform
from tools.mock_runtime import is_secret

REVIEW_LABEL = "tradesense.io/review-of"


def certificates(run) -> dict:
    return {r.inputs["metadata"]["name"]: r.inputs for r in run.recording.of_type(CERTIFICATE)}


def test_staging_serves_review_hostnames_through_one_wildcard_listener(platform_runs):
    run = platform_runs[("staging", "gateway-api")]
    gateway = run.recording.one(GATEWAY).inputs
    (review,) = [l for l in gateway["spec"]["listeners"] if l.get("hostname") == "*.staging.tradesense.com"]
    assert (review["protocol"], review["port"]) == ("HTTPS", 443)
    assert review["allowedRoutes"]["namespaces"] == {"from": "Selector", "selector": {"matchLabels": {REVIEW_LABEL: "staging"}}}
    secret_name = review["tls"]["certificateRefs"][0]["name"]
    assert secret_name != run.platform.tls_secret_name  # the stack's own certificate stays exact-name only
    wildcard = next(c for c in certificates(run).values() if c["spec"]["secretName"] == secret_name)
    assert wildcard["spec"]["dnsNames"] == ["*.staging.tradesense.com"]
    assert wildcard["metadata"]["namespace"] == gateway["metadata"]["namespace"]
    # The stack's own app routes never attach to the review listener.
    assert review["name"] not in run.platform.edge.https_sections
    # Plain HTTP to a review hostname redirects to HTTPS like the stack's own hostnames.
    redirect = next(r.inputs for r in run.recording.of_type(HTTPROUTE) if r.inputs["metadata"]["name"] == "https-redirect")
    assert "*.staging.tradesense.com" in redirect["spec"]["hostnames"]


def test_issuers_solve_only_the_wildcard_by_dns01_with_a_secret_token(platform_runs):
    run = platform_runs[("staging", "gateway-api")]
    for issuer in run.recording.of_type(CLUSTER_ISSUER):
        dns01, http01 = issuer.inputs["spec"]["acme"]["solvers"]
        assert dns01["selector"] == {"dnsNames": ["*.staging.tradesense.com"]}
        ref = dns01["dns01"]["digitalocean"]["tokenSecretRef"]
        assert "selector" not in http01 and "http01" in http01
    token = run.named(SECRET, ref["name"])
    assert token.inputs["metadata"]["namespace"] == "cert-manager"  # where ClusterIssuers resolve secret refs
    assert is_secret(token.inputs["stringData"]) and ref["key"] in token.inputs["stringData"]["value"]
    assert TEST_SECRETS["tradesense:dns01ApiToken"] in as_json(token.inputs["stringData"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_without_review_environments_have_no_wildcard(platform_runs, stack):
    run = platform_runs[(stack, "gateway-api")]
    assert not [c for c in certificates(run).values() if any(n.startswith("*.") for n in c["spec"]["dnsNames"])]
    assert not [r for r in run.recording.of_type(SECRET) if r.inputs["metadata"]["name"] == "dns01-api-token"]
    assert all("*" not in l.get("hostname", "") for l in run.recording.one(GATEWAY).inputs["spec"]["listeners"])


def test_a_self_signed_stack_gets_its_wildcard_without_dns01():
    run = run_platform("dev", {"platform.reviewEnvironments": {}})
    (wildcard,) = [c for c in certificates(run).values() if c["spec"]["dnsNames"] == ["*.tradesense.localhost"]]
    assert wildcard["spec"]["issuerRef"]["name"] == "selfsigned"
    assert not [r for r in run.recording.of_type(SECRET) if r.inputs["metadata"]["name"] == "dns01-api-token"]


def test_cloudflare_uses_its_api_token_field():
    solver = dns01_solver("cloudflare", ("*.example.com",))
    assert solver["dns01"] == {"cloudflare": {"apiTokenSecretRef": {"name": "dns01-api-token", "key": "api-token"}}}
    with pytest.raises(ValueError, match="unknown DNS-01 provider 'route53'"):
        dns01_solver("route53", ("*.example.com",))
