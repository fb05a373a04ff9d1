"""The identity CI deploys review environments with (README "Review environments"), on the stack
that hosts them (staging): a ServiceAccount that can manage namespaces `tradesense-pr-<N>` and
what the app puts in them, and nothing else.

RBAC cannot limit `create namespaces` (or a cluster-wide RoleBinding) to a name prefix, so the
limit is a ValidatingAdmissionPolicy (GA since Kubernetes 1.30): every write this ServiceAccount
makes must target a namespace named `tradesense-pr-*`. RBAC gives it, cluster-wide, only
namespaces, RoleBindings and `bind` on one ClusterRole; each review stack binds that ClusterRole
(the app's kinds) in its own namespace (components/review.py), so the identity can read nothing
in staging's own namespaces either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform.review_edge import REVIEW_NAMESPACE_PREFIX
from components.secure_defaults import recommended_labels

DEPLOYER_NAMESPACE = "tradesense-review-ci"
DEPLOYER_SERVICE_ACCOUNT = "review-deployer"
DEPLOYER_TOKEN_SECRET = "review-deployer-token"
DEPLOYER_CLUSTER_ROLE = "tradesense-review-deployer"
# Bound in each review namespace by the review stack, never cluster-wide.
APP_CLUSTER_ROLE = "tradesense-review-app"
APP_ROLE_BINDING = "review-deployer"

WRITE = ["create", "update", "patch", "delete"]
READ = ["get", "list", "watch"]
# (API group, resources) of every kind a review app creates; tests/platform/test_review_access.py
# checks that it covers the review plan.
APP_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("configmaps", "secrets", "services", "serviceaccounts")),
    ("apps", ("deployments", "statefulsets")),
    ("batch", ("jobs", "cronjobs")),
    ("autoscaling", ("horizontalpodautoscalers",)),
    ("policy", ("poddisruptionbudgets",)),
    ("networking.k8s.io", ("networkpolicies",)),
    ("gateway.networking.k8s.io", ("httproutes",)),
    ("monitoring.coreos.com", ("servicemonitors", "prometheusrules")),
    ("postgresql.cnpg.io", ("clusters", "scheduledbackups")),
)
# What Pulumi's await logic reads while it waits for those objects to become ready.
AWAIT_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("pods", "pods/log", "events", "endpoints", "persistentvolumeclaims")),
    ("apps", ("replicasets",)),
    ("discovery.k8s.io", ("endpointslices",)),
    ("events.k8s.io", ("events",)),
)


def deployer_username(namespace: str = DEPLOYER_NAMESPACE) -> str:
    return f"system:serviceaccount:{namespace}:{DEPLOYER_SERVICE_ACCOUNT}"


def app_role_binding() -> dict:
    """The RoleBinding a review stack creates in its namespace (the deployer may bind only this role)."""
    return {
        "role_ref": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APP_CLUSTER_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": DEPLOYER_SERVICE_ACCOUNT, "namespace": DEPLOYER_NAMESPACE}],
    }


# A Namespace is judged by its own name (request.namespace is empty for cluster-scoped objects);
# anything else by the namespace it is in. `object` is null on DELETE, `oldObject` on CREATE.
SCOPE_EXPRESSION = (
    "request.resource.resource == 'namespaces'"
    f" ? (request.operation == 'DELETE' ? oldObject : object).metadata.name.startsWith('{REVIEW_NAMESPACE_PREFIX}')"
    f" : request.namespace.startsWith('{REVIEW_NAMESPACE_PREFIX}')"
)


def _rules(groups, verbs) -> list[dict]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)} for group, resources in groups]


@dataclass(frozen=True)
class ReviewDeployerAccessArgs:
    namespace: k8s.core.v1.Namespace
    provider: k8s.Provider


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
        # The token CI's kubeconfig carries (docs/REVIEW_ENVIRONMENTS.md); the token controller
        # fills it in. Delete the Secret to revoke it; the next `up` makes a new one.
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
        policy = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-scope-policy",
            metadata={"name": DEPLOYER_CLUSTER_ROLE, "labels": labels},
            spec={
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*", "*/*"],
                    "operations": ["CREATE", "UPDATE", "DELETE"],
                }]},
                "matchConditions": [{"name": "review-deployer", "expression": f"request.userInfo.username == '{deployer_username()}'"}],
                "validations": [{
                    "expression": SCOPE_EXPRESSION,
                    "message": f"the review deployer may change only namespaces {REVIEW_NAMESPACE_PREFIX}* and what is in them",
                }],
            },
            opts=cluster_wide,
        )
        scope = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-scope-binding",
            metadata={"name": DEPLOYER_CLUSTER_ROLE, "labels": labels},
            spec={"policyName": DEPLOYER_CLUSTER_ROLE, "validationActions": ["Deny"]},
            opts=pulumi.ResourceOptions.merge(cluster_wide, pulumi.ResourceOptions(depends_on=[policy])),
        )
        # Its cluster-wide rights start only once the admission policy that scopes them is bound.
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-deployer-binding",
            metadata={"name": DEPLOYER_CLUSTER_ROLE, "labels": labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": DEPLOYER_CLUSTER_ROLE},
            subjects=[{"kind": "ServiceAccount", "name": DEPLOYER_SERVICE_ACCOUNT, "namespace": DEPLOYER_NAMESPACE}],
            opts=pulumi.ResourceOptions.merge(cluster_wide, pulumi.ResourceOptions(depends_on=[deployer_role, scope])),
        )
        self.register_outputs({"serviceAccount": deployer_username()})
