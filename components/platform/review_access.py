"""The identity CI deploys review environments with (docs/REVIEW_ENVIRONMENTS.md), on the stack
that hosts them (staging): a ServiceAccount that can manage namespaces `tradesense-pr-<N>` and
what the app puts in them, and nothing else.

RBAC cannot limit `create namespaces` (or a cluster-wide RoleBinding) to a name, so the limit is a
ValidatingAdmissionPolicy (GA since Kubernetes 1.30) on every write this ServiceAccount makes: the
namespace must be `tradesense-pr-<N>`, a review namespace keeps Pod Security `restricted` and its
review label, Services stay ClusterIP, RoleBindings grant only the app role to the deployer, and
ServiceMonitors scrape only their own namespace without file-based credentials. RBAC gives it,
cluster-wide, only namespaces, RoleBindings and `bind` on one ClusterRole; each review stack binds
that ClusterRole (the app's kinds) in its own namespace (components/review.py). Outside review
namespaces it can list namespaces and RoleBindings, and read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.platform.namespaces import RESTRICTED
from components.platform.review_edge import REVIEW_NAMESPACE_PREFIX, review_namespace_labels
from components.secure_defaults import psa_labels, recommended_labels

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


NAME_PATTERN = f"^{REVIEW_NAMESPACE_PREFIX}[0-9]+$"  # as Alertmanager's chat-only route matches them


def _on_write(resource: str, condition: str) -> str:
    """`condition` on every create or update of `resource` (the object exists; deletes pass)."""
    return f"request.resource.resource != '{resource}' || request.operation == 'DELETE' || ({condition})"


def _has_labels(labels: Mapping[str, str]) -> str:
    return " && ".join(["has(object.metadata.labels)"] + [
        f"'{k}' in object.metadata.labels && object.metadata.labels['{k}'] == '{v}'" for k, v in labels.items()])


def scope_validations(host_stack: str) -> list[dict]:
    """The admission policy's checks of every write the deployer makes (CEL, as the API server
    evaluates them: for a Namespace, request.namespace is its own name; for other cluster-scoped
    objects it is absent)."""
    namespace_name = "(request.operation == 'DELETE' ? oldObject : object).metadata.name"
    file_reads = ("has(e.bearerTokenFile) || (has(e.authorization) && has(e.authorization.credentialsFile))"
                  " || (has(e.tlsConfig) && (has(e.tlsConfig.caFile) || has(e.tlsConfig.certFile) || has(e.tlsConfig.keyFile)))")
    subject = " && ".join(f"has(s.{k}) && s.{k} == '{v}'" for k, v in DEPLOYER_SUBJECT.items())
    return [
        {"expression": f"request.resource.resource == 'namespaces' ? {namespace_name}.matches('{NAME_PATTERN}')"
                       f" : has(request.namespace) && request.namespace.matches('{NAME_PATTERN}')",
         "message": f"the review deployer may change only namespaces {REVIEW_NAMESPACE_PREFIX}<N> and what is in them"},
        # Without these labels a namespace could run privileged pods (and escape to the node).
        {"expression": _on_write("namespaces", _has_labels({**psa_labels(RESTRICTED), **review_namespace_labels(host_stack)})),
         "message": "a review namespace must keep Pod Security 'restricted' and its review label"},
        # The Gateway is the only way in: no LoadBalancer, NodePort, ExternalName or externalIPs.
        {"expression": _on_write("services", "(!has(object.spec.type) || object.spec.type == 'ClusterIP') && !has(object.spec.externalIPs)"),
         "message": "a review Service must be a plain ClusterIP Service"},
        {"expression": _on_write("rolebindings", f"object.roleRef.kind == 'ClusterRole' && object.roleRef.name == '{APP_CLUSTER_ROLE}'"
                                                 f" && has(object.subjects) && object.subjects.all(s, {subject})"),
         "message": f"a review RoleBinding may only grant {APP_CLUSTER_ROLE} to the review deployer"},
        # Prometheus runs with cluster-wide reads: a review ServiceMonitor scrapes its own
        # namespace only and makes Prometheus send none of its own files (its token).
        {"expression": _on_write("servicemonitors",
                                 "(!has(object.spec.namespaceSelector) || (!(has(object.spec.namespaceSelector.any) && object.spec.namespaceSelector.any)"
                                 " && has(object.spec.namespaceSelector.matchNames) && object.spec.namespaceSelector.matchNames.all(n, n == request.namespace)))"
                                 f" && (!has(object.spec.endpoints) || object.spec.endpoints.all(e, !({file_reads})))"),
         "message": "a review ServiceMonitor may scrape only its own namespace, without file-based credentials"},
    ]


def _rules(groups, verbs) -> list[dict]:
    return [{"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)} for group, resources in groups]


@dataclass(frozen=True)
class ReviewDeployerAccessArgs:
    namespace: k8s.core.v1.Namespace
    provider: k8s.Provider
    # This stack's name: the review label value its review namespaces must carry.
    host_stack: str


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
        # fills it in. Rotation: docs/REVIEW_ENVIRONMENTS.md.
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
                    "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"],  # every resource and subresource
                    "operations": ["CREATE", "UPDATE", "DELETE"],
                }]},
                "matchConditions": [{"name": "review-deployer", "expression": f"request.userInfo.username == '{DEPLOYER_USERNAME}'"}],
                "validations": scope_validations(args.host_stack),
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
            **bind_deployer(DEPLOYER_CLUSTER_ROLE),
            opts=pulumi.ResourceOptions.merge(cluster_wide, pulumi.ResourceOptions(depends_on=[deployer_role, scope])),
        )
        self.register_outputs({"serviceAccount": DEPLOYER_USERNAME})
