"""Shared pod building for every TradeSense workload: containers, probes, scratch volumes,
spreading, and the per-workload ServiceAccount, PodDisruptionBudget and HorizontalPodAutoscaler.

Security settings come only from `components.secure_defaults`; nothing here relaxes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app.config import Autoscaling, Resources
from components.app.placement import Placement
from components.app.workloads import Workload
from components.secure_defaults import container_security_context, pod_spec_defaults, service_account_settings

# Seconds a terminating pod keeps serving while endpoints and the edge stop routing to it.
DRAIN_SECONDS = 15


def http_probe(path: str, port: int, period: int = 10, failure_threshold: int = 3, timeout: int = 3) -> dict:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failure_threshold,
    }


def exec_probe(command: Sequence[str], period: int = 10, failure_threshold: int = 3, timeout: int = 5) -> dict:
    return {
        "exec": {"command": list(command)},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failure_threshold,
    }


@dataclass(frozen=True)
class Probes:
    liveness: dict
    readiness: dict
    # Covers slow starts (migrations-free boot, WAL/AOF replay) so liveness can stay strict.
    startup: Optional[dict] = None


@dataclass(frozen=True)
class Scratch:
    """A writable emptyDir, so the root filesystem can stay read-only."""

    name: str
    path: str
    size_limit: str = "256Mi"
    in_memory: bool = False

    def volume(self) -> dict:
        empty_dir: dict[str, Any] = {"sizeLimit": self.size_limit}
        if self.in_memory:
            empty_dir["medium"] = "Memory"
        return {"name": self.name, "emptyDir": empty_dir}

    def mount(self) -> dict:
        return {"name": self.name, "mountPath": self.path}


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    resources: Resources
    run_as_user: int
    probes: Optional[Probes] = None
    port: Optional[int] = None
    port_name: str = "http"
    env: tuple[dict, ...] = ()
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    scratch: tuple[Scratch, ...] = ()
    # Extra mounts (secrets, config, data volumes) beyond the scratch directories.
    mounts: tuple[dict, ...] = ()
    # preStop: keep serving for DRAIN_SECONDS after the pod is marked terminating.
    drain_on_stop: bool = False
    # Always: every start re-checks the registry, so a node's cache never serves a private
    # image to a pod without pull rights. Public, digest-pinnable images may opt out.
    always_pull: bool = True


def container(spec: ContainerSpec) -> dict:
    body: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": "Always" if spec.always_pull else "IfNotPresent",
        "resources": spec.resources.as_spec(),
        "securityContext": container_security_context(run_as_user=spec.run_as_user),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if spec.command:
        body["command"] = list(spec.command)
    if spec.args:
        body["args"] = list(spec.args)
    if spec.port is not None:
        body["ports"] = [{"name": spec.port_name, "containerPort": spec.port, "protocol": "TCP"}]
    if spec.env:
        body["env"] = list(spec.env)
    mounts = [s.mount() for s in spec.scratch] + list(spec.mounts)
    if mounts:
        body["volumeMounts"] = mounts
    if spec.probes is not None:
        body["livenessProbe"] = spec.probes.liveness
        body["readinessProbe"] = spec.probes.readiness
        if spec.probes.startup is not None:
            body["startupProbe"] = spec.probes.startup
    if spec.drain_on_stop:
        # Native sleep action (beta and on by default since 1.30, GA in 1.34): needs no shell in the image.
        body["lifecycle"] = {"preStop": {"sleep": {"seconds": DRAIN_SECONDS}}}
    return body


def spread_constraints(workload: Workload) -> list[dict]:
    """Spread replicas over zones (best effort: some clusters have one) and nodes (enforced)."""

    def constraint(key: str, when_unsatisfiable: str) -> dict:
        return {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": when_unsatisfiable,
            "labelSelector": {"matchLabels": workload.selector},
            # Count only this ReplicaSet's pods, so a rollout is spread on its own.
            "matchLabelKeys": ["pod-template-hash"],
            # Nodes this pod cannot run on (tainted) do not count as empty domains.
            "nodeTaintsPolicy": "Honor",
        }

    return [
        constraint("topology.kubernetes.io/zone", "ScheduleAnyway"),
        constraint("kubernetes.io/hostname", "DoNotSchedule"),
    ]


@dataclass(frozen=True)
class PodSpec:
    workload: Workload
    version: Optional[str]
    containers: tuple[ContainerSpec, ...]
    run_as_user: int
    fs_group: Optional[int] = None
    # Volumes beyond the containers' scratch directories (secrets, config maps).
    volumes: tuple[dict, ...] = ()
    # Grace after SIGTERM; the preStop drain counts against it.
    shutdown_seconds: int = 30
    spread: bool = False
    restart_policy: Optional[str] = None
    annotations: Mapping[str, str] = field(default_factory=dict)


def pod_template(spec: PodSpec) -> dict:
    drains = any(c.drain_on_stop for c in spec.containers)
    pod: dict[str, Any] = {
        **pod_spec_defaults(spec.workload.name, run_as_user=spec.run_as_user, fs_group=spec.fs_group),
        "containers": [container(c) for c in spec.containers],
        "terminationGracePeriodSeconds": spec.shutdown_seconds + (DRAIN_SECONDS if drains else 0),
    }
    volumes = [s.volume() for c in spec.containers for s in c.scratch] + list(spec.volumes)
    if volumes:
        pod["volumes"] = volumes
    if spec.spread:
        pod["topologySpreadConstraints"] = spread_constraints(spec.workload)
    if spec.restart_policy:
        pod["restartPolicy"] = spec.restart_policy
    metadata: dict[str, Any] = {"labels": spec.workload.labels(spec.version)}
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    return {"metadata": metadata, "spec": pod}


def service_account(
    name: str, workload: Workload, placement: Placement, parent: pulumi.Resource,
    annotations: Optional[Mapping[str, Any]] = None,
) -> k8s.core.v1.ServiceAccount:
    """`annotations`: workload identity (IRSA role ARN) where the pod needs cloud access."""
    return k8s.core.v1.ServiceAccount(
        f"{name}-service-account",
        metadata=placement.metadata(workload.name, workload.labels(), annotations=dict(annotations) if annotations else None),
        automount_service_account_token=service_account_settings()["automountServiceAccountToken"],
        opts=placement.opts(parent),
    )


def disruption_budget(
    name: str, workload: Workload, placement: Placement, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
) -> k8s.policy.v1.PodDisruptionBudget:
    # maxUnavailable (not minAvailable) so a drain always makes progress, one pod at a time,
    # even when the HPA sits at a single replica in dev.
    return k8s.policy.v1.PodDisruptionBudget(
        f"{name}-disruption-budget",
        metadata=placement.metadata(workload.name, workload.labels()),
        spec={
            "maxUnavailable": 1,
            "selector": {"matchLabels": workload.selector},
            # A crash-looping pod must not block node drains.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
        opts=placement.opts(parent, depends_on),
    )


def autoscaler(
    name: str,
    workload: Workload,
    scaling: Autoscaling,
    placement: Placement,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
    def utilization(resource: str, percent: int) -> dict:
        return {"type": "Resource", "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}}}

    return k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-autoscaler",
        metadata=placement.metadata(workload.name, workload.labels()),
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                utilization("cpu", scaling.target_cpu_percent),
                utilization("memory", scaling.target_memory_percent),
            ],
            "behavior": {
                # Scale up at once; scale down one pod a minute after 5 quiet minutes, so a
                # traffic dip does not cost the latency target on the next burst.
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
        opts=placement.opts(parent, depends_on),
    )
