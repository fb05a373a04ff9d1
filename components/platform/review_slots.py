"""What the privileged side creates for one review environment (tools/review_slot.py runs it with
the review-admin identity, from the base branch's code, never the PR's):

- the namespace `tradesense-pr-<N>` (Pod Security restricted, the review label);
- a ResourceQuota and a LimitRange in it, which the PR's own identity can neither change nor
  delete (no RBAC on them, and the admission allowlist refuses the kinds);
- the PR's own ServiceAccount `review-pr-<N>` in tradesense-review-ci, bound to the app role
  in that one namespace only. Its tokens are TokenRequests that expire (TOKEN_SECONDS).

The number of concurrent environments is capped by a ResourceQuota on ServiceAccounts in
tradesense-review-ci (the staging stack owns it; neither CI identity may touch it): the API
server refuses the ServiceAccount of one environment too many, so the cap holds whoever runs the
tool. Pure data: the staging component, the tool and the tests read the same manifests.
"""

from __future__ import annotations

from components.platform.namespaces import RESTRICTED
from components.platform.review_edge import REVIEW_NAMESPACE_PREFIX, review_namespace_labels
from components.secure_defaults import psa_labels, recommended_labels

CI_NAMESPACE = "tradesense-review-ci"
ADMIN_SERVICE_ACCOUNT = "review-admin"
PR_SERVICE_ACCOUNT_PREFIX = "review-pr-"
APP_CLUSTER_ROLE = "tradesense-review-app"
APP_ROLE_BINDING = "review-deployer"
QUOTA_NAME = "review-quota"
LIMITS_NAME = "review-limits"
SLOTS_QUOTA_NAME = "review-slots"
# ServiceAccounts of tradesense-review-ci that are not review slots: `default` and review-admin.
FIXED_SERVICE_ACCOUNTS = 2
# A PR's token lives for one workflow run; the admin refuses to mint longer ones.
TOKEN_SECONDS = 2 * 3600
# What one review environment may hold in total (the app needs ~1.2 CPU / 2.5Gi requested).
QUOTA_HARD = {
    "requests.cpu": "4", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi",
    "requests.storage": "20Gi", "persistentvolumeclaims": "8", "pods": "30",
    "services": "15", "services.loadbalancers": "0", "services.nodeports": "0",
    "count/deployments.apps": "10", "count/statefulsets.apps": "5", "count/jobs.batch": "20",
    "count/cronjobs.batch": "10", "count/clusters.postgresql.cnpg.io": "2", "secrets": "40", "configmaps": "40",
}
# Defaults for containers that set no resources, and a ceiling per container and per claim.
LIMITS = [
    {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"}, "defaultRequest": {"cpu": "50m", "memory": "64Mi"},
     "max": {"cpu": "2", "memory": "4Gi"}},
    {"type": "PersistentVolumeClaim", "max": {"storage": "5Gi"}},
]


def pr_namespace(number: int) -> str:
    return f"{REVIEW_NAMESPACE_PREFIX}{number}"


def pr_service_account(number: int) -> str:
    return f"{PR_SERVICE_ACCOUNT_PREFIX}{number}"


def pr_username(number: int) -> str:
    return f"system:serviceaccount:{CI_NAMESPACE}:{pr_service_account(number)}"


def slot_manifests(number: int, host_stack: str) -> list[dict]:
    """Everything the admin creates for review environment `number`, in creation order."""
    namespace = pr_namespace(number)
    labels = recommended_labels(f"review-pr-{number}", "review-slot")
    return [
        # First: the slots quota refuses it when every slot is taken, before anything else exists.
        {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
         "metadata": {"name": pr_service_account(number), "namespace": CI_NAMESPACE, "labels": labels}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": {**labels, **psa_labels(RESTRICTED), **review_namespace_labels(host_stack)}}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": QUOTA_NAME, "namespace": namespace, "labels": labels},
         "spec": {"hard": dict(QUOTA_HARD)}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": LIMITS_NAME, "namespace": namespace, "labels": labels},
         "spec": {"limits": [dict(limit) for limit in LIMITS]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": APP_ROLE_BINDING, "namespace": namespace, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APP_CLUSTER_ROLE},
         "subjects": [{"kind": "ServiceAccount", "name": pr_service_account(number), "namespace": CI_NAMESPACE}]},
    ]
