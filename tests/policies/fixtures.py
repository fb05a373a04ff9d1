"""Hand-built resources for policy tests, shaped like tools.mock_runtime's records.

Everything goes through tools.policy_eval.evaluate, i.e. a protobuf Struct,
`deserialize_properties` and `unknown_checking_proxy`, exactly as the engine delivers it.
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from pulumi.runtime.rpc import UNKNOWN

from tools.mock_runtime import SECRET_MARK, SECRET_SIG
from tools.policy_eval import Violation, evaluate, load_policies, make_resource, provider_reference

POLICIES = {policy.name: policy for policy in load_policies()}
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"ghcr.io/tradesense/backend:1.4.2@{DIGEST}"


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def secret(value: Any) -> dict:
    return {SECRET_SIG: SECRET_MARK, "value": value}


def patched(obj: Any, changes: dict[str, Any]) -> Any:
    """A deep copy of `obj` with dotted paths (`containers.0.image`) set, or removed by DELETE."""
    result = copy.deepcopy(obj)
    for path, value in changes.items():
        parts = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = result
        for part in parts[:-1]:
            if isinstance(part, int):
                target = target[part]
            else:
                target = target.setdefault(part, {})
        last = parts[-1]
        if value is DELETE:
            if isinstance(target, dict):
                target.pop(last, None)
        else:
            target[last] = copy.deepcopy(value)
    return result


def run(rule: str, resources: list, config: Optional[dict] = None) -> list[Violation]:
    """Violations of one rule (including "can't run during preview" diagnostics)."""
    return [v for v in evaluate(resources, config or {}, policies=[POLICIES[rule]]) if v.policy == rule]


def messages(violations: list[Violation]) -> str:
    return "\n".join(v.message for v in violations)


# --- Kubernetes -------------------------------------------------------------------------------


def container(name: str = "backend", **changes: Any) -> dict:
    base = {
        "name": name,
        "image": IMAGE,
        "ports": [{"name": "http", "containerPort": 8000}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "STRIPE_API_KEY", "valueFrom": {"secretKeyRef": {"name": "backend-secrets", "key": "stripeApiKey"}}},
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    }
    return patched(base, {k.replace("__", "."): v for k, v in changes.items()})


def pod_spec(**changes: Any) -> dict:
    base = {
        "serviceAccountName": "backend",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    return patched(base, changes)


LABELS = {"app.kubernetes.io/name": "backend", "app.kubernetes.io/part-of": "tradesense"}

KIND_TYPES = {
    "Pod": "kubernetes:core/v1:Pod",
    "Deployment": "kubernetes:apps/v1:Deployment",
    "StatefulSet": "kubernetes:apps/v1:StatefulSet",
    "DaemonSet": "kubernetes:apps/v1:DaemonSet",
    "Job": "kubernetes:batch/v1:Job",
    "CronJob": "kubernetes:batch/v1:CronJob",
}


def workload_inputs(kind: str = "Deployment", spec: Optional[dict] = None, name: str = "backend",
                    namespace: Any = "tradesense", labels: Optional[dict] = None, replicas: Any = None,
                    metadata_labels: Optional[dict] = None) -> dict:
    spec = pod_spec() if spec is None else spec
    labels = dict(LABELS) if labels is None else labels
    metadata = {"name": name, "labels": dict(metadata_labels or (labels if isinstance(labels, dict) else LABELS))}
    if namespace is not DELETE:
        metadata["namespace"] = namespace
    template = {"metadata": {"labels": labels}, "spec": spec}
    api = KIND_TYPES[kind].split(":")[1]
    body: dict = {"apiVersion": api.replace("core/", ""), "kind": kind, "metadata": metadata}
    if kind == "Pod":
        body["metadata"]["labels"] = labels
        body["spec"] = spec
    elif kind == "CronJob":
        body["spec"] = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Job":
        body["spec"] = {"template": template}
    else:
        body["spec"] = {"selector": {"matchLabels": labels}, "template": template}
        if replicas is not None:
            body["spec"]["replicas"] = replicas
    return body


def workload(kind: str = "Deployment", name: str = "backend", provider: str = "", protect: bool = False, **kwargs: Any):
    return make_resource(KIND_TYPES[kind], name, workload_inputs(kind, name=name, **kwargs), provider=provider, protect=protect)


def k8s(type_: str, name: str, body: dict, namespace: Any = "tradesense", provider: str = "", **kwargs: Any):
    kind = type_.rsplit(":", 1)[-1]
    api = type_.split(":")[1].replace("core/", "")
    metadata = {"name": name}
    if namespace is not DELETE:
        metadata["namespace"] = namespace
    return make_resource(type_, name, {"apiVersion": api, "kind": kind, "metadata": metadata, **body}, provider=provider, **kwargs)


def k8s_provider(name: str = "cluster-k8s", namespace: Optional[str] = None):
    inputs = {"kubeconfig": secret("apiVersion: v1"), "clusterIdentifier": "existing:test"}
    if namespace is not None:
        inputs["namespace"] = namespace
    return make_resource("pulumi:providers:kubernetes", name, inputs)


__all__ = [
    "DELETE", "DIGEST", "IMAGE", "KIND_TYPES", "LABELS", "POLICIES", "UNKNOWN", "container", "k8s", "k8s_provider",
    "make_resource", "messages", "patched", "pod_spec", "provider_reference", "run", "secret", "workload",
    "workload_inputs",
]
