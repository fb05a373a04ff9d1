"""The one place secure defaults live (cdk8s-plus / terraform-aws-eks style).

Every pod this program renders takes its security contexts from here: non-root, read-only
root filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp,
no service-account token unless asked for. Relaxing one is an explicit, named argument.
"""

from __future__ import annotations

from typing import Any, Optional

# Pod Security Admission labels for a namespace enforcing `level`.
PSA_VERSION = "latest"


def psa_labels(level: str) -> dict[str, str]:
    return {
        f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "audit", "warn")
    } | {f"pod-security.kubernetes.io/{mode}-version": PSA_VERSION for mode in ("enforce", "audit", "warn")}


def pod_security_context(
    run_as_user: int = 10001,
    run_as_group: Optional[int] = None,
    fs_group: Optional[int] = None,
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_group if run_as_group is not None else run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group is not None:
        ctx["fsGroup"] = fs_group
        ctx["fsGroupChangePolicy"] = "OnRootMismatch"
    return ctx


def container_security_context(
    run_as_user: int = 10001,
    writable_root_filesystem: bool = False,
    allow_net_bind_service: bool = False,
) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": not writable_root_filesystem,
        "capabilities": {"drop": ["ALL"], **({"add": ["NET_BIND_SERVICE"]} if allow_net_bind_service else {})},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def recommended_labels(name: str, component: str, part_of: str = "tradesense", version: Optional[str] = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/managed-by": "pulumi",
    }
    if version:
        labels["app.kubernetes.io/version"] = version[:63]
    return labels


def selector_labels(name: str, part_of: str = "tradesense") -> dict[str, str]:
    """The immutable subset used in selectors and NetworkPolicies."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": part_of}


# --- Pod-level defaults for workloads (appended for the app layer; any component may use them).


def service_account_settings(mount_token: bool = False) -> dict[str, Any]:
    """ServiceAccount fields: no API token in pods unless a workload explicitly needs one."""
    return {"automountServiceAccountToken": mount_token}


def pod_spec_defaults(
    service_account: str,
    run_as_user: int = 10001,
    fs_group: Optional[int] = None,
    mount_service_account_token: bool = False,
) -> dict[str, Any]:
    """The hardened part of every pod spec: identity, security context, no injected service env.

    `enableServiceLinks: false` stops Kubernetes injecting `<SERVICE>_PORT=tcp://...` variables,
    which collide with settings such as `POSTGRES_PORT` or `REDIS_PORT` and leak the topology.
    """
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": mount_service_account_token,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(run_as_user=run_as_user, fs_group=fs_group),
    }
