"""Helm-values fragments shared by every chart: sizing and the secure-defaults contexts."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.secure_defaults import container_security_context, pod_security_context


def resources(cpu: str, memory: str, cpu_limit: Optional[str] = None, memory_limit: Optional[str] = None) -> dict[str, Any]:
    """Requests and limits; memory limit defaults to the request so a pod is never OOM-evicted first."""
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit or cpu, "memory": memory_limit or memory},
    }


def pod_context(uid: int, fs_group: Optional[int] = None) -> dict[str, Any]:
    return pod_security_context(run_as_user=uid, fs_group=fs_group)


def container_context(uid: int, writable_root_filesystem: bool = False, allow_net_bind_service: bool = False) -> dict[str, Any]:
    return container_security_context(
        run_as_user=uid,
        writable_root_filesystem=writable_root_filesystem,
        allow_net_bind_service=allow_net_bind_service,
    )


def image_user_pod_context() -> dict[str, Any]:
    """For distroless images whose USER is already non-root: enforce it without pinning a uid."""
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def locked_container_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def chart_disruption_budget(name: str, namespace: str, pod_labels: Mapping[str, str], parent: pulumi.Resource,
                            provider: pulumi.ProviderResource, depends_on: Sequence[pulumi.Resource]) -> k8s.policy.v1.PodDisruptionBudget:
    """A PodDisruptionBudget for a chart's pods, where the chart has none (found by rendering it):
    one pod at a time, and a crash-looping pod never blocks a node drain."""
    return k8s.policy.v1.PodDisruptionBudget(
        f"{name}-disruption-budget",
        metadata={"name": pod_labels.get("app.kubernetes.io/name", name), "namespace": namespace,
                  "labels": {"app.kubernetes.io/part-of": "tradesense"}},
        spec={"maxUnavailable": 1, "selector": {"matchLabels": dict(pod_labels)}, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )
