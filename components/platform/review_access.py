"""The identities CI manages review environments with, on the stack that hosts them (staging).

- `review-admin` (tradesense-review-ci): run only by base-branch code in the workflow's
  privileged step (tools/review_slot.py). It opens a slot for PR <N> (components/platform/
  review_slots.py: namespace, ResourceQuota, LimitRange, ServiceAccount review-pr-<N> and its
  RoleBinding), mints that ServiceAccount's expiring token (TokenRequest), and closes the slot.
- `review-pr-<N>`: one per PR, the identity the PR's own program runs as. It holds the app's
  rights (APP_KINDS) in `tradesense-pr-<N>` through one RoleBinding and nothing cluster-wide, so
  one PR cannot touch another's environment, its quota or its limits.

RBAC cannot limit `create namespaces` (or a cluster-wide RoleBinding) to a name, and cannot see
fields, so both identities are also judged by ValidatingAdmissionPolicies (GA since Kubernetes
1.30), an allowlist of kinds and fields (components/platform/review_admission.py). The number of
slots is capped by a ResourceQuota on ServiceAccounts in tradesense-review-ci that this stack
owns and neither identity may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform.review_admission import APP_KINDS, AdmissionPolicy, review_admission_policies
from components.platform.review_slots import (
    ADMIN_SERVICE_ACCOUNT, APP_CLUSTER_ROLE, CI_NAMESPACE, FIXED_SERVICE_ACCOUNTS, SLOTS_QUOTA_NAME,
)
from components.secure_defaults import recommended_labels

DEPLOYER_NAMESPACE = CI_NAMESPACE
ADMIN_CLUSTER_ROLE = "tradesense-review-admin"
POLICY_PREFIX = "tradesense-review-deployer"
ADMIN_USERNAME = f"system:serviceaccount:{CI_NAMESPACE}:{ADMIN_SERVICE_ACCOUNT}"
ADMIN_SUBJECT = {"kind": "ServiceAccount", "name": ADMIN_SERVICE_ACCOUNT, "namespace": CI_NAMESPACE}

WRITE = ["create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]
# What Pulumi's await logic reads while it waits for those objects to become ready.
AWAIT_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("pods", "pods/log", "events", "endpoints", "persistentvolumeclaims")),
    ("apps", ("replicasets",)),
    ("discovery.k8s.io", ("endpointslices",)),
    ("events.k8s.io", ("events",)),
)


def _rules(groups, verbs) -> list[dict]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)} for group, resources in groups]


@dataclass(frozen=True)
class ReviewDeployerAccessArgs:
    namespace: k8s.core.v1.Namespace
    provider: k8s.Provider
    # This stack's name: the review label value its review namespaces must carry.
    host_stack: str
    # This stack's domain: review hostnames are pr-<N>.<domain> (and www-, api-).
    domain: str
    # The shared Gateway review routes attach to.
    gateway_namespace: str
    gateway_name: str
    # The cap on concurrent review environments.
    max_environments: int = 8


class ReviewDeployerAccess(pulumi.ComponentResource):
    service_account: k8s.core.v1.ServiceAccount

    def __init__(self, name: str, args: ReviewDeployerAccessArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:ReviewDeployerAccess", name, None, opts)
        labels = recommended_labels(ADMIN_SERVICE_ACCOUNT, "review-access")
        cluster_wide = pulumi.ResourceOptions(parent=self, provider=args.provider)
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace])

        # The cap: each review environment is one ServiceAccount here (review_slots.py), and
        # neither CI identity has any right on ResourceQuotas of this namespace.
        slots = k8s.core.v1.ResourceQuota(
            f"{name}-slots",
            metadata={"name": SLOTS_QUOTA_NAME, "namespace": CI_NAMESPACE, "labels": labels},
            # Object-count quota: the API server knows ServiceAccounts only as count/serviceaccounts
            # (a bare "serviceaccounts" is refused as "must be a standard resource for quota").
            spec={"hard": {"count/serviceaccounts": str(args.max_environments + FIXED_SERVICE_ACCOUNTS)}},
            opts=in_namespace,
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": ADMIN_SERVICE_ACCOUNT, "namespace": CI_NAMESPACE, "labels": labels},
            automount_service_account_token=False,  # no pod runs as it; CI holds an expiring token
            opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[slots])),
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-app-role",
            metadata={"name": APP_CLUSTER_ROLE, "labels": labels},
            rules=_rules(APP_KINDS, READ + WRITE) + _rules(AWAIT_READS, READ),
            opts=cluster_wide,
        )
        admin_role = k8s.rbac.v1.ClusterRole(
            f"{name}-admin-role",
            metadata={"name": ADMIN_CLUSTER_ROLE, "labels": labels},
            rules=[
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ + WRITE},
                {"apiGroups": [""], "resources": ["resourcequotas", "limitranges"], "verbs": READ + ["create"]},
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": READ + WRITE},
                # May grant APP_CLUSTER_ROLE (which it does not hold) in a RoleBinding, and no other role.
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                 "resourceNames": [APP_CLUSTER_ROLE]},
            ],
            opts=cluster_wide,
        )
        # PR ServiceAccounts and their tokens live in this namespace only.
        accounts_role = k8s.rbac.v1.Role(
            f"{name}-accounts-role",
            metadata={"name": ADMIN_CLUSTER_ROLE, "namespace": CI_NAMESPACE, "labels": labels},
            rules=[{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list", "create", "delete"]},
                   {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}],
            opts=in_namespace,
        )
        policies = review_admission_policies(POLICY_PREFIX, args.host_stack, args.domain, args.gateway_namespace, args.gateway_name)
        scopes = [self._bind_policy(name, policy, labels, cluster_wide) for policy in policies]
        # Its rights start only once the admission policies that scope them are bound.
        after_policies = pulumi.ResourceOptions(depends_on=[admin_role, accounts_role, *scopes])
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-admin-binding",
            metadata={"name": ADMIN_CLUSTER_ROLE, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ADMIN_CLUSTER_ROLE},
            subjects=[dict(ADMIN_SUBJECT)],
            opts=pulumi.ResourceOptions.merge(cluster_wide, after_policies),
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-accounts-binding",
            metadata={"name": ADMIN_CLUSTER_ROLE, "namespace": CI_NAMESPACE, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ADMIN_CLUSTER_ROLE},
            subjects=[dict(ADMIN_SUBJECT)],
            opts=pulumi.ResourceOptions.merge(in_namespace, after_policies),
        )
        self.register_outputs({"serviceAccount": ADMIN_USERNAME})

    def _bind_policy(self, name: str, policy: AdmissionPolicy, labels: dict, opts: pulumi.ResourceOptions):
        """The ValidatingAdmissionPolicy and its Deny binding, for one review identity's requests."""
        role = policy.name.removeprefix(POLICY_PREFIX) or "-scope"
        vap = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}{role}-policy",
            metadata={"name": policy.name, "labels": labels},
            spec={
                "failurePolicy": "Fail",
                # Named resources (not `*`) for the per-kind policies, so the API server
                # type-checks their CEL against the kind's schema (status.typeChecking).
                "matchConstraints": {"resourceRules": [
                    {"apiGroups": [group], "apiVersions": ["*"],
                     "resources": ["*/*"] if resources == ("*",) else list(resources),
                     "operations": list(policy.operations)}
                    for group, resources in policy.resources]},
                "matchConditions": [{"name": "review-identity", "expression": policy.user_condition}],
                "validations": [dict(v) for v in policy.validations],
            },
            opts=opts,
        )
        return k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}{role}-binding",
            metadata={"name": policy.name, "labels": labels},
            spec={"policyName": policy.name, "validationActions": ["Deny"]},
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[vap])),
        )
