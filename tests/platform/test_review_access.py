"""The identity CI deploys review environments with, joined as the API server would apply it:
staging's RBAC and admission policy, each review namespace's RoleBinding, and the objects a
review plan creates. The policy's CEL is evaluated with cel-python."""

from __future__ import annotations

import pytest

from tests.app.k8s import manifest
from tests.platform.admission_eval import admission
from tools.plan import build_plan
from tools.review_stack import materialise, stack_name

DEPLOYER = "system:serviceaccount:tradesense-review-ci:review-deployer"
FIRST, COUNT = 7, 2
WRITES = ("create", "patch", "update", "delete")


@pytest.fixture(scope="module")
def staging():
    return build_plan("staging").recording


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    return build_plan(stack_name(FIRST), materialise(FIRST, COUNT, dest=tmp_path_factory.mktemp("review"))).recording


def objects(recording, kind: str) -> list[dict]:
    return [m for m in map(manifest, recording.kubernetes_objects()) if m["kind"] == kind]


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]  # "v1" -> "" (core), "apps/v1" -> "apps"


def plural(kind: str) -> str:
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def bound_to_deployer(binding: dict) -> bool:
    return any(s.get("kind") == "ServiceAccount" and f"system:serviceaccount:{s['namespace']}:{s['name']}" == DEPLOYER
               for s in binding.get("subjects", []))


def rules_in(namespace: str, staging, review) -> list[dict]:
    """The deployer's RBAC rules that apply in `namespace`: its ClusterRoleBindings' roles, plus the
    ClusterRoles RoleBindings in that namespace grant it."""
    roles = {r["metadata"]["name"]: r.get("rules", []) for r in objects(staging, "ClusterRole")}
    names = [b["roleRef"]["name"] for b in objects(staging, "ClusterRoleBinding") if bound_to_deployer(b)]
    names += [b["roleRef"]["name"] for b in objects(staging, "RoleBinding") + objects(review, "RoleBinding")
              if b["metadata"].get("namespace") == namespace and bound_to_deployer(b)]
    return [rule for name in names for rule in roles.get(name, [])]


def allows(rules: list[dict], group: str, resource: str, verb: str, name: str = "") -> bool:
    return any(
        ({group, "*"} & set(r["apiGroups"])) and ({resource, "*"} & set(r["resources"])) and ({verb, "*"} & set(r["verbs"]))
        and (not r.get("resourceNames") or name in r["resourceNames"])
        for r in rules
    )


def test_only_the_stack_hosting_review_environments_has_the_deployer(recordings):
    for stack, recording in recordings.items():
        accounts = [m["metadata"]["name"] for m in objects(recording, "ServiceAccount") if m["metadata"]["name"] == "review-deployer"]
        assert accounts == (["review-deployer"] if stack == "staging" else []), stack
    (account,) = [m for m in objects(recordings["staging"], "ServiceAccount") if m["metadata"]["name"] == "review-deployer"]
    assert account["automountServiceAccountToken"] is False
    (token,) = [m for m in objects(recordings["staging"], "Secret") if m["metadata"]["name"] == "review-deployer-token"]
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "review-deployer"


def test_the_deployer_may_write_every_object_of_a_review_environment(staging, review):
    checked = 0
    for obj in map(manifest, review.kubernetes_objects()):
        group, resource = group_of(obj["apiVersion"]), plural(obj["kind"])
        namespace = obj["metadata"].get("namespace", "")
        rules = rules_in(namespace, staging, review)
        for verb in ("get", *WRITES):
            assert allows(rules, group, resource, verb), f"{verb} {group}/{resource} in {namespace or 'cluster'}"
        if obj["kind"] == "RoleBinding":  # granting a role it does not hold needs `bind` on it
            assert allows(rules, "rbac.authorization.k8s.io", "clusterroles", "bind", obj["roleRef"]["name"])
        checked += 1
    assert checked > COUNT * 40  # every Kubernetes object of both environments


def test_the_deployer_reads_and_writes_no_workload_or_secret_in_stagings_namespaces(staging, review):
    for namespace in ("tradesense", "monitoring", "cert-manager", "nginx-gateway", "tradesense-review-ci"):
        rules = rules_in(namespace, staging, review)
        for resource in ("secrets", "configmaps", "pods", "deployments"):
            group = "apps" if resource == "deployments" else ""
            assert not any(allows(rules, group, resource, verb) for verb in ("get", "list", *WRITES)), (namespace, resource)
    # It may bind one role and no other (so it cannot hand itself cluster-admin anywhere).
    cluster_rules = rules_in("", staging, review)
    assert not allows(cluster_rules, "rbac.authorization.k8s.io", "clusterroles", "bind", "cluster-admin")
    assert not allows(cluster_rules, "rbac.authorization.k8s.io", "clusterrolebindings", "create")
    assert not allows(cluster_rules, "rbac.authorization.k8s.io", "clusterroles", "escalate")


REVIEW_LABELS = {
    **{f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")},
    **{f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "audit", "warn")},
    "tradesense.io/review-of": "staging",
}
GOOD_NAMESPACE = {"metadata": {"name": "tradesense-pr-7", "labels": REVIEW_LABELS}}
SUBJECT = {"kind": "ServiceAccount", "name": "review-deployer", "namespace": "tradesense-review-ci"}
APP_BINDING = {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tradesense-review-app"},
               "subjects": [SUBJECT]}
MONITOR = {"spec": {"namespaceSelector": {"matchNames": ["tradesense-pr-7"]}, "endpoints": [{"port": "http"}]}}


@pytest.mark.parametrize("user,operation,resource,namespace,name,fields,expected", [
    (DEPLOYER, "CREATE", "configmaps", "tradesense-pr-7", "app", {}, True),
    (DEPLOYER, "DELETE", "secrets", "tradesense-pr-7", "app", {}, True),
    (DEPLOYER, "CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense-pr-7", "review-deployer", APP_BINDING, True),
    (DEPLOYER, "CREATE", "namespaces", "", "tradesense-pr-7", {"metadata": GOOD_NAMESPACE["metadata"]}, True),
    (DEPLOYER, "DELETE", "namespaces", "", "tradesense-pr-7", {}, True),
    (DEPLOYER, "CREATE", "services", "tradesense-pr-7", "backend", {"spec": {"type": "ClusterIP"}}, True),
    (DEPLOYER, "CREATE", "monitoring.coreos.com/servicemonitors", "tradesense-pr-7", "backend", MONITOR, True),
    # Its cluster-wide RBAC would allow these; the admission policy stops them.
    (DEPLOYER, "CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense", "mine", APP_BINDING, False),
    (DEPLOYER, "UPDATE", "configmaps", "monitoring", "grafana", {}, False),
    (DEPLOYER, "CREATE", "namespaces", "", "tradesense-evil", {"metadata": {**GOOD_NAMESPACE["metadata"], "name": "tradesense-evil"}}, False),
    (DEPLOYER, "CREATE", "namespaces", "", "tradesense-pr-x", {"metadata": {**GOOD_NAMESPACE["metadata"], "name": "tradesense-pr-x"}}, False),
    (DEPLOYER, "UPDATE", "namespaces", "", "tradesense", {"metadata": {"name": "tradesense", "labels": REVIEW_LABELS}}, False),
    (DEPLOYER, "DELETE", "namespaces", "", "tradesense", {}, False),
    (DEPLOYER, "CREATE", "rbac.authorization.k8s.io/clusterrolebindings", "", "mine", {}, False),
    # Inside a review namespace: no way out of Pod Security, past the Gateway, or to more rights.
    (DEPLOYER, "UPDATE", "namespaces", "", "tradesense-pr-7",
     {"metadata": {"name": "tradesense-pr-7", "labels": {**REVIEW_LABELS, "pod-security.kubernetes.io/enforce": "privileged"}}}, False),
    (DEPLOYER, "CREATE", "namespaces", "", "tradesense-pr-7", {"metadata": {"name": "tradesense-pr-7"}}, False),
    (DEPLOYER, "CREATE", "services", "tradesense-pr-7", "lb", {"spec": {"type": "LoadBalancer"}}, False),
    (DEPLOYER, "CREATE", "services", "tradesense-pr-7", "ext", {"spec": {"type": "ClusterIP", "externalIPs": ["10.0.0.1"]}}, False),
    (DEPLOYER, "CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense-pr-7", "all", {**APP_BINDING, "subjects": [{"kind": "Group", "name": "system:authenticated"}]}, False),
    (DEPLOYER, "CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense-pr-7", "admin", {**APP_BINDING, "roleRef": {"kind": "ClusterRole", "name": "admin"}}, False),
    (DEPLOYER, "CREATE", "monitoring.coreos.com/servicemonitors", "tradesense-pr-7", "spy", {"spec": {"namespaceSelector": {"any": True}}}, False),
    (DEPLOYER, "CREATE", "monitoring.coreos.com/servicemonitors", "tradesense-pr-7", "spy", {"spec": {"namespaceSelector": {"matchNames": ["tradesense"]}}}, False),
    (DEPLOYER, "CREATE", "monitoring.coreos.com/servicemonitors", "tradesense-pr-7", "token",
     {"spec": {**MONITOR["spec"], "endpoints": [{"port": "http", "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}]}}, False),
    # Everyone else is not this policy's business.
    ("system:serviceaccount:kube-system:replicaset-controller", "CREATE", "pods", "tradesense", "backend", {}, True),
    ("admin@tradesense.com", "DELETE", "namespaces", "", "tradesense-pr-7", {}, True),
])
def test_the_admission_policy_keeps_every_write_inside_review_namespaces(staging, user, operation, resource, namespace, name,
                                                                          fields, expected):
    assert admission(staging)(user, operation, resource, namespace, name, **fields) is expected


def test_what_a_review_plan_creates_passes_the_admission_policy(staging, review):
    admitted = admission(staging)
    checked = set()
    for obj in map(manifest, review.kubernetes_objects()):
        namespace = obj["metadata"].get("namespace", "")
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        resource = f"{group_of(obj['apiVersion'])}/{plural(obj['kind'])}"
        for operation in ("CREATE", "UPDATE", "DELETE"):
            assert admitted(DEPLOYER, operation, resource, namespace, obj["metadata"]["name"], **fields), (operation, obj["metadata"])
        checked.add(obj["kind"])
    # An object of each kind the review plan creates was checked (so this cannot pass empty).
    assert {"Namespace", "RoleBinding", "Service", "ServiceMonitor", "PrometheusRule", "HTTPRoute", "Cluster",
            "Deployment", "StatefulSet", "Secret", "HorizontalPodAutoscaler"} <= checked


def test_the_deployer_gets_its_rights_only_after_the_policy_that_scopes_them(staging):
    by_name = {(r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["name"]): r for r in staging.kubernetes_objects()}
    crb = by_name[("ClusterRoleBinding", "tradesense-review-deployer")]
    scope = by_name[("ValidatingAdmissionPolicyBinding", "tradesense-review-deployer")]
    policy = by_name[("ValidatingAdmissionPolicy", "tradesense-review-deployer")]
    assert scope.urn in crb.dependencies and policy.urn in scope.dependencies


def test_review_objects_wait_for_the_deployers_role_binding(review):
    bindings = {r.inputs["metadata"]["namespace"]: r.urn for r in review.kubernetes_objects() if r.inputs["kind"] == "RoleBinding"}
    assert sorted(bindings) == [f"tradesense-pr-{n}" for n in range(FIRST, FIRST + COUNT)]
    for resource in review.kubernetes_objects():
        namespace = resource.inputs["metadata"].get("namespace")
        if resource.inputs["kind"] not in ("Namespace", "RoleBinding"):
            assert bindings[namespace] in resource.dependencies, resource.urn
