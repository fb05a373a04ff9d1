"""The identities CI manages review environments with, joined as the API server would apply them:
staging's RBAC and admission policies, the slot the review admin opens for each PR
(components/platform/review_slots.py), and the objects a review plan creates. CEL is evaluated
with cel-python (tests/platform/admission_eval.py)."""

from __future__ import annotations

import pytest

from components.platform.review_slots import QUOTA_HARD, TOKEN_SECONDS, pr_username, slot_manifests
from tests.app.k8s import manifest
from tests.platform.admission_eval import admission
from tools.plan import build_plan
from tools.review_stack import materialise, stack_name

ADMIN = "system:serviceaccount:tradesense-review-ci:review-admin"
FIRST, COUNT = 7, 2
WRITES = ("create", "patch", "update", "delete")


@pytest.fixture(scope="module")
def staging():
    return build_plan("staging").recording


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    return build_plan(stack_name(FIRST), materialise(FIRST, COUNT, dest=tmp_path_factory.mktemp("review"))).recording


@pytest.fixture(scope="module")
def admit(staging):
    return admission(staging)


def slots() -> list[dict]:
    return [m for n in range(FIRST, FIRST + COUNT) for m in slot_manifests(n, "staging")]


def objects(recording, kind: str) -> list[dict]:
    return [m for m in map(manifest, recording.kubernetes_objects()) if m["kind"] == kind]


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]  # "v1" -> "" (core), "apps/v1" -> "apps"


def plural(kind: str) -> str:
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def bound_to(binding: dict, user: str) -> bool:
    return any(s.get("kind") == "ServiceAccount" and f"system:serviceaccount:{s['namespace']}:{s['name']}" == user
               for s in binding.get("subjects", []))


def rules_in(namespace: str, user: str, staging) -> list[dict]:
    """`user`'s RBAC rules that apply in `namespace`: its ClusterRoleBindings' roles, plus the roles
    RoleBindings in that namespace (staging's and the slots') grant it."""
    cluster_roles = {r["metadata"]["name"]: r.get("rules", []) for r in objects(staging, "ClusterRole")}
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r.get("rules", []) for r in objects(staging, "Role")}
    found = [cluster_roles.get(b["roleRef"]["name"], []) for b in objects(staging, "ClusterRoleBinding") if bound_to(b, user)]
    for b in objects(staging, "RoleBinding") + [m for m in slots() if m["kind"] == "RoleBinding"]:
        if b["metadata"].get("namespace") == namespace and bound_to(b, user):
            ref = b["roleRef"]
            found.append(cluster_roles.get(ref["name"], []) if ref["kind"] == "ClusterRole" else roles.get((namespace, ref["name"]), []))
    return [rule for rules in found for rule in rules]


def allows(rules: list[dict], group: str, resource: str, verb: str, name: str = "") -> bool:
    return any(
        ({group, "*"} & set(r["apiGroups"])) and ({resource, "*"} & set(r["resources"])) and ({verb, "*"} & set(r["verbs"]))
        and (not r.get("resourceNames") or name in r["resourceNames"])
        for r in rules
    )


def test_only_the_stack_hosting_review_environments_has_the_admin_and_no_legacy_token(recordings):
    for stack, recording in recordings.items():
        accounts = [m["metadata"]["name"] for m in objects(recording, "ServiceAccount") if m["metadata"]["name"] == "review-admin"]
        assert accounts == (["review-admin"] if stack == "staging" else []), stack
        # No non-expiring token Secret anywhere: CI holds TokenRequest tokens only.
        assert not [m for m in objects(recording, "Secret") if m.get("type") == "kubernetes.io/service-account-token"], stack
    (account,) = [m for m in objects(recordings["staging"], "ServiceAccount") if m["metadata"]["name"] == "review-admin"]
    assert account["automountServiceAccountToken"] is False


def test_a_pr_may_write_every_object_of_its_environment_and_nothing_of_another(staging, review):
    checked = 0
    for obj in map(manifest, review.kubernetes_objects()):
        group, resource = group_of(obj["apiVersion"]), plural(obj["kind"])
        namespace = obj["metadata"]["namespace"]
        number = int(namespace.rsplit("-", 1)[1])
        for verb in ("get", *WRITES):
            assert allows(rules_in(namespace, pr_username(number), staging), group, resource, verb), f"{verb} {group}/{resource} in {namespace}"
            other = FIRST + COUNT - 1 if number == FIRST else FIRST
            assert not allows(rules_in(namespace, pr_username(other), staging), group, resource, verb), f"pr-{other} in {namespace}"
        checked += 1
    assert checked > COUNT * 40  # every Kubernetes object of both environments
    assert not [m for m in map(manifest, review.kubernetes_objects()) if m["kind"] in ("Namespace", "RoleBinding", "ResourceQuota")]


def test_a_pr_has_no_right_outside_its_namespace_nor_on_its_quota(staging):
    user = pr_username(FIRST)
    for namespace in ("tradesense", "monitoring", "cert-manager", "nginx-gateway", "tradesense-review-ci", f"tradesense-pr-{FIRST + 1}", ""):
        assert rules_in(namespace, user, staging) == [], namespace
    own = rules_in(f"tradesense-pr-{FIRST}", user, staging)
    for resource in ("resourcequotas", "limitranges", "rolebindings", "roles", "namespaces", "pods"):
        group = "rbac.authorization.k8s.io" if resource.startswith("role") else ""
        assert not any(allows(own, group, resource, verb) for verb in WRITES), resource


def test_the_admin_cannot_read_secrets_widen_the_cap_or_grant_more_than_the_app_role(staging):
    for namespace in ("tradesense", "monitoring", "tradesense-review-ci", f"tradesense-pr-{FIRST}"):
        rules = rules_in(namespace, ADMIN, staging)
        for resource in ("secrets", "configmaps", "pods"):
            assert not any(allows(rules, "", resource, verb) for verb in ("get", "list", *WRITES)), (namespace, resource)
    ci = rules_in("tradesense-review-ci", ADMIN, staging)
    assert not any(allows(ci, "", "resourcequotas", verb) for verb in ("update", "patch", "delete"))
    assert allows(ci, "", "serviceaccounts/token", "create") and not allows(rules_in("tradesense", ADMIN, staging), "", "serviceaccounts/token", "create")
    cluster = rules_in("", ADMIN, staging)
    assert allows(cluster, "rbac.authorization.k8s.io", "clusterroles", "bind", "tradesense-review-app")
    assert not allows(cluster, "rbac.authorization.k8s.io", "clusterroles", "bind", "cluster-admin")
    assert not allows(cluster, "rbac.authorization.k8s.io", "clusterrolebindings", "create")
    assert not allows(cluster, "rbac.authorization.k8s.io", "clusterroles", "escalate")


def test_the_cap_is_a_quota_on_review_service_accounts_that_only_staging_owns(staging):
    (slots_quota,) = [q for q in objects(staging, "ResourceQuota") if q["metadata"]["name"] == "review-slots"]
    assert slots_quota["metadata"]["namespace"] == "tradesense-review-ci"
    # default + review-admin + 8 slots, and only the spelling the API server accepts (a real 1.35
    # API server refused a bare "serviceaccounts": tests/e2e/cluster/test_cluster_plans.py).
    assert slots_quota["spec"]["hard"] == {"count/serviceaccounts": str(8 + 2)}
    # The admin's admission policy refuses any quota write there (it may create quotas in review namespaces only).
    admit = admission(staging)
    assert not admit(ADMIN, "UPDATE", "resourcequotas", "tradesense-review-ci", "review-slots", spec={"hard": {"count/serviceaccounts": "999"}})
    assert not admit(ADMIN, "DELETE", "resourcequotas", "tradesense-review-ci", "review-slots")
    assert not admit(ADMIN, "CREATE", "resourcequotas", "tradesense-review-ci", "more", spec={"hard": {}})


def test_the_slot_manifests_pass_the_admins_policies(admit):
    for m in slots():
        fields = {k: v for k, v in m.items() if k not in ("apiVersion", "kind")}
        assert admit(ADMIN, "CREATE", f"{group_of(m['apiVersion'])}/{plural(m['kind'])}", m["metadata"].get("namespace", ""),
                     m["metadata"]["name"], **fields), m
    assert admit(ADMIN, "CREATE", "serviceaccounts", "tradesense-review-ci", "review-pr-7", subresource="token",
                 spec={"expirationSeconds": TOKEN_SECONDS})
    assert admit(ADMIN, "DELETE", "namespaces", "", "tradesense-pr-7")
    assert admit(ADMIN, "DELETE", "serviceaccounts", "tradesense-review-ci", "review-pr-7")


def slot(kind: str) -> dict:
    (m,) = [m for m in slot_manifests(FIRST, "staging") if m["kind"] == kind]
    return {k: v for k, v in m.items() if k not in ("apiVersion", "kind", "metadata")} | {"metadata": m["metadata"]}


@pytest.mark.parametrize("case,operation,resource,namespace,name,fields", [
    ("widen a quota", "UPDATE", "resourcequotas", "tradesense-pr-7", "review-quota", {"spec": {"hard": {**QUOTA_HARD, "pods": "999"}}}),
    ("create a wider quota", "CREATE", "resourcequotas", "tradesense-pr-7", "review-quota", {"spec": {"hard": {**QUOTA_HARD, "requests.cpu": "64"}}}),
    ("a scoped quota", "CREATE", "resourcequotas", "tradesense-pr-7", "review-quota", {"spec": {"hard": QUOTA_HARD, "scopes": ["BestEffort"]}}),
    ("delete the quota", "DELETE", "resourcequotas", "tradesense-pr-7", "review-quota", {}),
    ("delete the limits", "DELETE", "limitranges", "tradesense-pr-7", "review-limits", {}),
    ("a year-long token", "CREATE", "serviceaccounts", "tradesense-review-ci", "review-pr-7", {"spec": {"expirationSeconds": 31536000}}),
    ("a token for itself", "CREATE", "serviceaccounts", "tradesense-review-ci", "review-admin", {"spec": {"expirationSeconds": 600}}),
    ("a token elsewhere", "CREATE", "serviceaccounts", "kube-system", "review-pr-7", {"spec": {"expirationSeconds": 600}}),
    ("bind another PR's account", "CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense-pr-7", "x",
     {"roleRef": {"kind": "ClusterRole", "name": "tradesense-review-app"},
      "subjects": [{"kind": "ServiceAccount", "name": "review-pr-8", "namespace": "tradesense-review-ci"}]}),
    ("bind admin", "CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense-pr-7", "x",
     {"roleRef": {"kind": "ClusterRole", "name": "admin"},
      "subjects": [{"kind": "ServiceAccount", "name": "review-pr-7", "namespace": "tradesense-review-ci"}]}),
    ("privileged namespace", "CREATE", "namespaces", "", "tradesense-pr-7",
     {"metadata": {"name": "tradesense-pr-7", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}),
    ("another namespace", "DELETE", "namespaces", "", "tradesense", {}),
    ("a secret", "CREATE", "secrets", "tradesense-pr-7", "x", {}),
])
def test_the_admins_hostile_requests_are_refused(admit, case, operation, resource, namespace, name, fields):
    subresource = "token" if "token" in case else ""
    assert not admit(ADMIN, operation, resource, namespace, name, subresource=subresource, **fields), case


def test_what_a_review_plan_creates_passes_the_admission_policy(admit, review):
    checked = set()
    for obj in map(manifest, review.kubernetes_objects()):
        namespace = obj["metadata"]["namespace"]
        user = pr_username(int(namespace.rsplit("-", 1)[1]))
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        resource = f"{group_of(obj['apiVersion'])}/{plural(obj['kind'])}"
        for operation in ("CREATE", "UPDATE", "DELETE"):
            assert admit(user, operation, resource, namespace, obj["metadata"]["name"], **fields), (operation, obj["metadata"])
        # The same object in the other PR's namespace is refused to this PR.
        other = f"tradesense-pr-{FIRST + 1 if namespace.endswith(str(FIRST)) else FIRST}"
        assert not admit(user, "CREATE", resource, other, obj["metadata"]["name"], **{**fields, "metadata": {**obj["metadata"], "namespace": other}})
        checked.add(obj["kind"])
    # An object of each kind the review plan creates was checked (so this cannot pass empty).
    assert {"Service", "ServiceMonitor", "PrometheusRule", "HTTPRoute", "Cluster", "Deployment", "StatefulSet", "Secret",
            "HorizontalPodAutoscaler"} <= checked


@pytest.mark.parametrize("operation,resource,namespace,name,fields", [
    ("CREATE", "namespaces", "", "tradesense-pr-99", {}),
    ("DELETE", "namespaces", "", "tradesense-pr-7", {}),
    ("DELETE", "resourcequotas", "tradesense-pr-7", "review-quota", {}),
    ("UPDATE", "limitranges", "tradesense-pr-7", "review-limits", {"spec": {"limits": []}}),
    ("CREATE", "rbac.authorization.k8s.io/rolebindings", "tradesense-pr-7", "x", {}),
    ("DELETE", "configmaps", "tradesense-pr-8", "app", {}),
    ("CREATE", "configmaps", "tradesense", "app", {}),
])
def test_a_pr_cannot_touch_its_quota_limits_rights_or_another_environment(admit, operation, resource, namespace, name, fields):
    assert not admit(pr_username(FIRST), operation, resource, namespace, name, **fields)


def test_everyone_else_is_not_these_policies_business(admit):
    assert admit("system:serviceaccount:kube-system:replicaset-controller", "CREATE", "pods", "tradesense", "backend")
    assert admit("admin@tradesense.com", "DELETE", "namespaces", "", "tradesense-pr-7")
    # A look-alike name outside the CI namespace gets no PR treatment (and no rights: RBAC).
    assert admit("system:serviceaccount:other:review-pr-7", "CREATE", "configmaps", "tradesense", "x")


def test_the_admin_gets_its_rights_only_after_the_policies_that_scope_them(staging):
    by_name = {(r.type.rsplit(":", 1)[-1], r.inputs["metadata"]["name"]): r for r in staging.kubernetes_objects()}
    crb = by_name[("ClusterRoleBinding", "tradesense-review-admin")]
    bindings = [r for (kind, _), r in by_name.items() if kind == "ValidatingAdmissionPolicyBinding"
                and r.inputs["metadata"]["name"].startswith("tradesense-review-deployer")]
    assert len(bindings) > 10 and all(b.urn in crb.dependencies for b in bindings)
