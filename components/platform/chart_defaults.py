"""Helm-values fragments shared by every chart: sizing and the secure-defaults contexts."""

from __future__ import annotations

from typing import Any, Optional

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
