"""Prometheus, Alertmanager and Grafana are reachable only from the monitoring namespace itself
(issue 21: review pods reached the unauthenticated Alertmanager API), joined with the policy-graph
evaluator (tests/app/netpol_eval.py) over staging's recorded NetworkPolicies. The attacker's
namespace gets an allow-all egress policy (a review PR may write NetworkPolicies in its own
namespace), so only the monitoring side can stop it."""

from __future__ import annotations

import pytest

from tests.app.k8s import manifest
from tests.app.netpol_eval import External, Pod, Policy, allowed
from tools.plan import build_plan


@pytest.fixture(scope="module")
def policies():
    rec = build_plan("staging").recording
    found = [Policy(m["metadata"]["namespace"], m["metadata"]["name"], m["spec"])
             for m in map(manifest, rec.kubernetes_objects()) if m["kind"] == "NetworkPolicy"]
    open_egress = [Policy(ns, "egress-open", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]})
                   for ns in ("tradesense-pr-7", "tradesense", "nginx-gateway", "monitoring")]
    return found + open_egress


PROMETHEUS = Pod("prometheus-0", "monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.3.10")
ALERTMANAGER = Pod("alertmanager-0", "monitoring", {"app.kubernetes.io/name": "alertmanager"}, "10.244.3.11")
GRAFANA = Pod("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"}, "10.244.3.12")
OPERATOR = Pod("operator", "monitoring", {"app": "kube-prometheus-stack-operator"}, "10.244.3.13")
TARGETS = [(PROMETHEUS, 9090), (ALERTMANAGER, 9093), (ALERTMANAGER, 9094), (GRAFANA, 3000), (OPERATOR, 8080)]


@pytest.mark.parametrize("attacker", [
    Pod("review-backend", "tradesense-pr-7", {"app.kubernetes.io/name": "backend"}, "10.244.10.5"),
    # Same labels as Grafana, another namespace: labels alone admit nothing.
    Pod("fake-grafana", "tradesense-pr-7", {"app.kubernetes.io/name": "grafana"}, "10.244.10.6"),
    Pod("staging-backend", "tradesense", {"app.kubernetes.io/name": "backend"}, "10.244.1.5"),
    Pod("edge", "nginx-gateway", {"gateway.networking.k8s.io/gateway-name": "tradesense"}, "10.244.2.10"),
    External("203.0.113.7"),
])
def test_nothing_outside_monitoring_reaches_its_apis(policies, attacker):
    for target, port in TARGETS:
        assert not allowed(policies, attacker, target, port), (attacker, target.name, port)


def test_what_monitoring_needs_still_flows(policies):
    assert allowed(policies, GRAFANA, PROMETHEUS, 9090)
    assert allowed(policies, PROMETHEUS, ALERTMANAGER, 9093)
    assert allowed(policies, ALERTMANAGER, ALERTMANAGER, 9094)
    # The API server calls the operator's admission webhook from outside the pod network.
    assert allowed(policies, External("172.20.0.1"), OPERATOR, 10250)
    assert not allowed(policies, External("172.20.0.1"), PROMETHEUS, 10250)
    # Prometheus still scrapes a review app (its own egress is open; the review app admits it).
    review = Pod("review-backend", "tradesense-pr-7", {"app.kubernetes.io/name": "backend"}, "10.244.10.5")
    assert allowed(policies, PROMETHEUS, review, 8000)


def test_the_review_ci_namespace_admits_nothing(policies):
    ghost = Pod("x", "tradesense-review-ci", {}, "10.244.9.9")
    assert not allowed(policies, External("203.0.113.7"), ghost, 443)
    assert not allowed(policies, ghost, External("203.0.113.7"), 443)
