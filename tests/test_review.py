"""Review environments: N of them plan with unique names, no cluster or platform, and isolated networks.

Isolation is proved with the policy-graph evaluator (tests/app/netpol_eval.py) over the NetworkPolicies
of staging's plan and of N review environments together, as they would share the staging cluster.
"""

from __future__ import annotations

from collections import Counter
from itertools import product

import pytest

from tests.app.k8s import manifest, named, objects, pod_templates
from tests.app.netpol_eval import Pod, Policy, allowed
from tools.plan import build_plan
from tools.review_stack import materialise, stack_name

FIRST, COUNT = 41, 3
NUMBERS = range(FIRST, FIRST + COUNT)
STAGING_NS = "tradesense"


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    root = materialise(FIRST, COUNT, dest=tmp_path_factory.mktemp("review"))
    return build_plan(stack_name(FIRST), root)


@pytest.fixture(scope="module")
def staging():
    return build_plan("staging")


def test_only_the_app_per_pull_request(review):
    rec = review.recording
    types = Counter(r.type for r in rec.resources)
    assert not [t for t in types if t.startswith(("aws:", "digitalocean:", "kubernetes:helm.sh/", "kubernetes:yaml/"))]
    assert types["tradesense:app:TradeSenseApp"] == COUNT
    assert types["tradesense:cluster:ExistingCluster"] == 1 and types["pulumi:providers:kubernetes"] == 1
    # The namespaces are the review admin's (tools/review_slot.py), not the PR's program's.
    assert not objects(rec, "Namespace", namespace=None) and not objects(rec, "RoleBinding", namespace=None)
    placed = sorted({manifest(r)["metadata"]["namespace"] for r in rec.kubernetes_objects()})
    assert placed == [f"tradesense-pr-{n}" for n in NUMBERS]
    assert review.mandatory == []


def test_review_stacks_use_the_review_policy_config(review):
    from tools.policy_eval import evaluate, load_policy_config, policy_config_name

    assert [policy_config_name(s) for s in ("pr-12", "staging", "pr-x", "prod")] == ["review", "staging", "pr-x", "prod"]
    # Staging's rules apply, except the backup one (a review environment's data is thrown away) and
    # the namespaces: tradesense-pr-<N> is the review admin's (tools/review_slot.py), not the program's.
    assert review.violations == []
    with_staging_config = evaluate(review.recording.resources, load_policy_config("staging"))
    assert sorted({v.policy for v in with_staging_config}) == [
        "k8s-namespace-require-pod-security-restricted", "stack-require-backup-cronjob"]
    assert all("namespace tradesense-pr-" in v.message for v in with_staging_config
               if v.policy == "k8s-namespace-require-pod-security-restricted")


def test_names_are_unique_and_carry_the_pr_number(review):
    rec = review.recording
    assert len({r.urn for r in rec.resources}) == len(rec.resources)
    keys = [(b["kind"], b["metadata"].get("namespace"), b["metadata"]["name"]) for b in map(manifest, rec.kubernetes_objects())]
    assert len(keys) == len(set(keys))
    for r in rec.resources:
        if r.type.startswith(("kubernetes:", "random:", "tradesense:app:")) and not r.type.startswith("pulumi:"):
            assert any(f"pr-{n}" in r.name for n in NUMBERS), r.name
    per_env = Counter(next(n for n in NUMBERS if f"-pr-{n}" in r.name) for r in rec.resources if "-pr-" in r.name)
    assert len(set(per_env.values())) == 1  # every environment has the same resources


def test_own_hostnames_on_the_shared_gateway(review):
    routes = [manifest(r) for r in objects(review.recording, "HTTPRoute", namespace=None)]
    assert len(routes) == 2 * COUNT
    for route in routes:
        number = route["metadata"]["namespace"].rsplit("-", 1)[1]
        assert all(h.endswith(f"pr-{number}.staging.tradesense.com") for h in route["spec"]["hostnames"])
        assert {(p["namespace"], p["name"]) for p in route["spec"]["parentRefs"]} == {("nginx-gateway", "tradesense")}


def covered_by_certificate(hostname: str, dns_name: str) -> bool:
    """RFC 6125: a wildcard covers exactly one left-most label."""
    if dns_name.startswith("*."):
        label, _, rest = hostname.partition(".")
        return bool(label) and rest == dns_name[2:]
    return hostname == dns_name


def selects(match_labels: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in match_labels.items())


def test_staging_gateway_admits_and_serves_every_review_route(review, staging):
    """Joins the two stacks' plans as the cluster would: route -> listener -> certificate -> issuer."""
    gateway = named(staging.recording, "Gateway", "tradesense", "nginx-gateway")
    listeners = {listener["name"]: listener for listener in gateway["spec"]["listeners"]}
    certificates = {c["spec"]["secretName"]: c for c in map(manifest, objects(staging.recording, "Certificate", namespace=None))}
    issuers = {i["metadata"]["name"]: i for i in map(manifest, objects(staging.recording, "ClusterIssuer", namespace=None))}
    from components.platform.review_slots import slot_manifests

    # The namespaces as the review admin opens them (components/platform/review_slots.py).
    namespaces = {n["metadata"]["name"]: {**n["metadata"]["labels"], "kubernetes.io/metadata.name": n["metadata"]["name"]}
                  for number in NUMBERS for n in slot_manifests(number, "staging") if n["kind"] == "Namespace"}
    staging_namespace = {"kubernetes.io/metadata.name": STAGING_NS}
    routes = [manifest(r) for r in objects(review.recording, "HTTPRoute", namespace=None)]
    assert routes
    for route in routes:
        labels = namespaces[route["metadata"]["namespace"]]
        for parent in route["spec"]["parentRefs"]:
            listener = listeners[parent["sectionName"]]
            assert listener["protocol"] == "HTTPS"
            assert selects(listener["allowedRoutes"]["namespaces"]["selector"]["matchLabels"], labels)
            certificate = certificates[listener["tls"]["certificateRefs"][0]["name"]]
            for hostname in route["spec"]["hostnames"]:
                assert any(covered_by_certificate(hostname, name) for name in certificate["spec"]["dnsNames"]), hostname
            # Let's Encrypt issues the wildcard only through DNS-01, with a token Secret cert-manager can read.
            solvers = issuers[certificate["spec"]["issuerRef"]["name"]]["spec"]["acme"]["solvers"]
            dns01 = [s for s in solvers if set(certificate["spec"]["dnsNames"]) <= set(s.get("selector", {}).get("dnsNames", []))]
            assert dns01 and "dns01" in dns01[0]
            token = dns01[0]["dns01"]["digitalocean"]["tokenSecretRef"]
            assert named(staging.recording, "Secret", token["name"], "cert-manager")["stringData"][token["key"]]
        # The staging app's own listeners never admit a review namespace, nor the review listener staging's app.
        for listener in gateway["spec"]["listeners"]:
            selector = listener["allowedRoutes"]["namespaces"].get("selector", {}).get("matchLabels")
            if listener["name"] == "https-review":
                assert not selects(selector, staging_namespace)
            elif selector is not None:
                assert not selects(selector, labels)


def test_small_data_stores(review):
    sizes = {manifest(r)["metadata"]["name"]: manifest(r)["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
             for r in objects(review.recording, "StatefulSet", namespace=None)}
    sizes |= {manifest(r)["metadata"]["name"]: manifest(r)["spec"]["storage"]["size"] for r in objects(review.recording, "Cluster", namespace=None)}
    assert set(sizes.values()) == {"1Gi"} and any(name == "postgres" for name in sizes)


def policies_of(rec) -> list[Policy]:
    return [Policy(b["metadata"]["namespace"], b["metadata"]["name"], b["spec"])
            for b in (manifest(r) for r in objects(rec, "NetworkPolicy", namespace=None))]


def pods_of(rec, namespace: str, subnet: int) -> dict[str, Pod]:
    pods = {}
    for index, (_, template) in enumerate(pod_templates(rec, namespace)):
        labels = template["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
        pods[labels["app.kubernetes.io/name"]] = Pod(labels["app.kubernetes.io/name"], namespace, labels, f"10.244.{subnet}.{index + 10}", ports)
    # The CloudNativePG instance, labelled as the operator labels it (its Cluster's inherited labels plus cnpg.io/*).
    for cluster in (manifest(r) for r in objects(rec, "Cluster", namespace=None)):
        if cluster["metadata"]["namespace"] == namespace:
            labels = {**cluster["spec"]["inheritedMetadata"]["labels"], "cnpg.io/cluster": cluster["metadata"]["name"], "cnpg.io/podRole": "instance"}
            pods["postgres"] = Pod("postgres-1", namespace, labels, f"10.244.{subnet}.5", {"postgresql": 5432})
    return pods


SERVICES = {"postgres": 5432, "redis": 6379, "backend": 8000, "frontend": 3000}


def test_review_environments_are_isolated_from_staging_and_each_other(review, staging):
    policies = policies_of(review.recording) + policies_of(staging.recording)
    envs = {STAGING_NS: pods_of(staging.recording, STAGING_NS, 1)}
    envs |= {f"tradesense-pr-{n}": pods_of(review.recording, f"tradesense-pr-{n}", 10 + i) for i, n in enumerate(NUMBERS)}
    assert all({"backend", "postgres", "redis", "frontend", "backend-migrations"} <= set(p) for p in envs.values())
    # Inside one environment the app still works (so the check below can fail for the right reason).
    for pods in envs.values():
        assert allowed(policies, pods["backend"], pods["postgres"], 5432)
        assert allowed(policies, pods["frontend"], pods["backend"], 8000)
    edge = Pod("edge", "nginx-gateway", {"gateway.networking.k8s.io/gateway-name": "tradesense"}, "10.244.2.10")
    for pods in envs.values():
        assert allowed(policies, edge, pods["frontend"], 3000)

    def leaks(policies: list[Policy]) -> list[tuple]:
        return [
            (a, src, b, dst)
            for (a, b) in product(envs, envs) if a != b
            for src, dst in product(envs[a], SERVICES)
            if allowed(policies, envs[a][src], envs[b][dst], SERVICES[dst])
        ]

    assert leaks(policies) == []
    # Control: one over-broad allow (any namespace may reach pr-41's Postgres) is caught as a leak.
    broad = Policy("tradesense-pr-41", "broad", {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                                                 "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    egress_open = [Policy(ns, "egress-open", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}) for ns in envs]
    assert ("tradesense", "backend", "tradesense-pr-41", "postgres") in leaks(policies + [broad] + egress_open)


def test_a_review_stack_refuses_prod(tmp_path):
    from components.config import ConfigError

    root = materialise(5, dest=tmp_path)
    with pytest.raises(ConfigError) as error:
        build_plan(stack_name(5), root, config_overrides={"tradesense:environment": "prod"})
    assert "tradesense:review review environments run on the staging cluster: set tradesense:environment to staging" in error.value.problems
