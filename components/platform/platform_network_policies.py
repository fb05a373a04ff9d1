"""NetworkPolicies of the platform namespaces that hold unauthenticated APIs.

Prometheus (9090), Alertmanager (9093/9094) and Grafana (3000) have no authentication of their
own: anyone who reaches Alertmanager can silence alerts or page on-call. The monitoring
namespace therefore admits ingress only from its own pods (Grafana -> Prometheus,
Prometheus -> Alertmanager, the operator, kube-state-metrics) and, on the operator's webhook
port only, from anywhere (the API server calls admission webhooks from outside the pod
network). Egress stays open: Prometheus scrapes every namespace. The review CI namespace runs
no pods and admits nothing. Operators reach Grafana with `kubectl port-forward` (API server
tunnel, not pod traffic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.secure_defaults import recommended_labels

# kube-prometheus-stack 88.5.3: prometheusOperator.tls.internalPort, and the operator pod's `app` label.
OPERATOR_WEBHOOK_PORT = 10250
OPERATOR_POD_LABELS = {"app": "kube-prometheus-stack-operator"}


def monitoring_policies() -> list[tuple[str, dict]]:
    return [
        ("default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        ("allow-same-namespace", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}),
        ("allow-operator-webhook", {"podSelector": {"matchLabels": dict(OPERATOR_POD_LABELS)}, "policyTypes": ["Ingress"],
                                    "ingress": [{"ports": [{"port": OPERATOR_WEBHOOK_PORT, "protocol": "TCP"}]}]}),
    ]


def deny_all_policies() -> list[tuple[str, dict]]:
    return [("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})]


@dataclass(frozen=True)
class PlatformNetworkPoliciesArgs:
    provider: k8s.Provider
    # namespace name -> (its Namespace resource, its policies)
    namespaces: tuple[tuple[str, k8s.core.v1.Namespace, tuple[tuple[str, dict], ...]], ...]


class PlatformNetworkPolicies(pulumi.ComponentResource):
    def __init__(self, name: str, args: PlatformNetworkPoliciesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:PlatformNetworkPolicies", name, None, opts)
        for namespace, resource, policies in args.namespaces:
            for policy, spec in policies:
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{namespace}-{policy}",
                    metadata={"name": policy, "namespace": namespace, "labels": recommended_labels(policy, "network-policy")},
                    spec=spec,
                    opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[resource]),
                )
        self.register_outputs({"namespaces": [n for n, _, _ in args.namespaces]})
