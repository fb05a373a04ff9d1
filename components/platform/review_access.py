"""The identity CI deploys review environments with (README "Review environments"), on the stack
that hosts them (staging): a ServiceAccount that can manage namespaces `tradesense-pr-<N>` and
what the app puts in them, and nothing else.

RBAC cannot limit `create namespaces` (or a cluster-wide RoleBinding) to a name, so the limit is a
set of ValidatingAdmissionPolicies (GA since Kubernetes 1.30) on every write this ServiceAccount
makes, an allowlist of kinds and fields (components/platform/review_admission.py). RBAC gives it,
cluster-wide, only namespaces, RoleBindings and `bind` on one ClusterRole; each review stack binds
that ClusterRole (the app's kinds) in its own namespace (components/review.py). Outside review
namespaces it can list namespaces and RoleBindings, and read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform.review_admission import APP_KINDS, AdmissionPolicy, review_admission_policies
from components.secure_defaults import recommended_labels

DEPLOYER_NAMESPACE = "tradesense-review-ci"
DEPLOYER_SERVICE_ACCOUNT = "review-deployer"
DEPLOYER_TOKEN_SECRET = "review-deployer-token"
DEPLOYER_CLUSTER_ROLE = "tradesense-review-deployer"
# Bound in each review namespace by the review stack, never cluster-wide.
APP_CLUSTER_ROLE = "tradesense-review-app"
APP_ROLE_BINDING = "review-deployer"
DEPLOYER_SUBJECT = {"kind": "ServiceAccount", "name": DEPLOYER_SERVICE_ACCOUNT, "namespace": DEPLOYER_NAMESPACE}

WRITE = ["create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]
# What Pulumi's await logic reads while it waits for those objects to become ready.
AWAIT_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("pods", "pods/log", "events", "endpoints", "persistentvolumeclaims")),
    ("apps", ("replicasets",)),
    ("discovery.k8s.io", ("endpointslices",)),
    ("events.k8s.io", ("events",)),
)


DEPLOYER_USERNAME = f"system:serviceaccount:{DEPLOYER_NAMESPACE}:{DEPLOYER_SERVICE_ACCOUNT}"


def bind_deployer(cluster_role: str) -> dict:
    """roleRef and subjects of a (Cluster)RoleBinding that grants `cluster_role` to the deployer."""
    return {
        "role_ref": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [dict(DEPLOYER_SUBJECT)],
    }


def bind_app_role(name: str, namespace: k8s.core.v1.Namespace, namespace_name: str, provider: k8s.Provider,
                  parent: pulumi.Resource) -> k8s.rbac.v1.RoleBinding:
    """The RoleBinding a review stack creates in its namespace: the deployer gets the app's
    rights there and nowhere else (it may bind only this role)."""
    return k8s.rbac.v1.RoleBinding(
        name,
        metadata={"name": APP_ROLE_BINDING, "namespace": namespace_name},
        **bind_deployer(APP_CLUSTER_ROLE),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[namespace]),
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


class ReviewDeployerAccess(pulumi.ComponentResource):
    service_account: k8s.core.v1.ServiceAccount

    def __init__(self, name: str, args: ReviewDeployerAccessArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:ReviewDeployerAccess", name, None, opts)
        labels = recommended_labels(DEPLOYER_SERVICE_ACCOUNT, "review-access")
        cluster_wide = pulumi.ResourceOptions(parent=self, provider=args.provider)
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace])

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": DEPLOYER_SERVICE_ACCOUNT, "namespace": DEPLOYER_NAMESPACE, "labels": labels},
            automount_service_account_token=False,  # no pod runs as it; CI holds its token
            opts=in_namespace,
        )
        # The token CI's kubeconfig carries (tools/review_kubeconfig.py); the token controller
        # fills it in. Rotation: README "Review environments".
        k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"name": DEPLOYER_TOKEN_SECRET, "namespace": DEPLOYER_NAMESPACE, "labels": labels,
                      "annotations": {"kubernetes.io/service-account.name": DEPLOYER_SERVICE_ACCOUNT}},
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[self.service_account])),
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-app-role",
            metadata={"name": APP_CLUSTER_ROLE, "labels": labels},
            rules=_rules(APP_KINDS, READ + WRITE) + _rules(AWAIT_READS, READ),
            opts=cluster_wide,
        )
        deployer_role = k8s.rbac.v1.ClusterRole(
            f"{name}-deployer-role",
            metadata={"name": DEPLOYER_CLUSTER_ROLE, "labels": labels},
            rules=[
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ + WRITE},
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": READ + WRITE},
                # May grant APP_CLUSTER_ROLE (which it does not hold) in a RoleBinding, and no other role.
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                 "resourceNames": [APP_CLUSTER_ROLE]},
            ],
            opts=cluster_wide,
        )
        policies = review_admission_policies(DEPLOYER_CLUSTER_ROLE, args.host_stack, args.domain, args.gateway_namespace,
                                             args.gateway_name, DEPLOYER_SUBJECT, APP_CLUSTER_ROLE)
        scopes = [self._bind_policy(name, policy, labels, cluster_wide) for policy in policies]
        # Its cluster-wide rights start only once the admission policy that scopes them is bound.
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-deployer-binding",
            metadata={"name": DEPLOYER_CLUSTER_ROLE, "labels": labels},
            **bind_deployer(DEPLOYER_CLUSTER_ROLE),
            opts=pulumi.ResourceOptions.merge(cluster_wide, pulumi.ResourceOptions(depends_on=[deployer_role, *scopes])),
        )
        self.register_outputs({"serviceAccount": DEPLOYER_USERNAME})

    def _bind_policy(self, name: str, policy: AdmissionPolicy, labels: dict, opts: pulumi.ResourceOptions):
        """The ValidatingAdmissionPolicy and its Deny binding, for the deployer's requests only."""
        role = policy.name.removeprefix(DEPLOYER_CLUSTER_ROLE) or "-scope"
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
                "matchConditions": [{"name": "review-deployer", "expression": f"request.userInfo.username == '{DEPLOYER_USERNAME}'"}],
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
