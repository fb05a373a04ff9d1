"""TradeSense policy rules. Standalone: imports only pulumi_policy and the standard library, so
the engine can load it from the pack directory and tools can import `policies.tradesense_rules`."""

from __future__ import annotations

from . import aws, aws_ec2, aws_s3, cost, digitalocean, helm, k8s_network, k8s_pod, k8s_rbac, stack

ALL_POLICIES = [
    *k8s_pod.POD_POLICIES,
    *k8s_pod.OBJECT_POLICIES,
    *k8s_network.POLICIES,
    *k8s_rbac.POLICIES,
    *helm.POLICIES,
    *aws.POLICIES,
    *aws_ec2.POLICIES,
    *aws_s3.POLICIES,
    *digitalocean.POLICIES,
    *stack.POLICIES,
    *cost.POLICIES,
]

_names = [policy.name for policy in ALL_POLICIES]
assert len(_names) == len(set(_names)), "policy names must be unique"

__all__ = ["ALL_POLICIES"]
