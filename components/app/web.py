"""The shape backend and frontend share: Deployment + Service + HPA + PDB + ServiceAccount.

The Deployment leaves `replicas` unset: the HPA owns the count (between its per-stack bounds),
and a replica count in the manifest would be reset on every `pulumi up` and fight the HPA
through server-side apply. Rollouts never drop below the current count (maxUnavailable 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.config import Autoscaling
from components.app.placement import Placement
from components.app.pods import PodSpec, autoscaler, disruption_budget, pod_template, service_account
from components.app.workloads import Workload


@dataclass(frozen=True)
class WebWorkloadArgs:
    placement: Placement
    pod: PodSpec
    autoscaling: Autoscaling
    depends_on: tuple[pulumi.Resource, ...] = ()
    # Workload identity for the pods' ServiceAccount (IRSA on EKS).
    account_annotations: Optional[Mapping[str, Any]] = None


@dataclass(frozen=True)
class WebWorkload:
    service_account: k8s.core.v1.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    autoscaler: k8s.autoscaling.v2.HorizontalPodAutoscaler
    disruption_budget: k8s.policy.v1.PodDisruptionBudget


def web_workload(name: str, parent: pulumi.Resource, args: WebWorkloadArgs) -> WebWorkload:
    workload: Workload = args.pod.workload
    placement = args.placement
    account = service_account(name, workload, placement, parent, args.account_annotations)
    deployment = k8s.apps.v1.Deployment(
        f"{name}-deployment",
        metadata=placement.metadata(workload.name, workload.labels(args.pod.version)),
        spec={
            "selector": {"matchLabels": workload.selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": 600,
            "template": pod_template(args.pod),
        },
        opts=placement.opts(parent, [account, *args.depends_on], runs_pods=True),
    )
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata=placement.metadata(workload.name, workload.labels()),
        spec={
            "type": "ClusterIP",
            "selector": workload.selector,
            "ports": [{"name": "http", "port": workload.port, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}],
        },
        opts=placement.opts(parent),
    )
    return WebWorkload(
        service_account=account,
        deployment=deployment,
        service=service,
        # The HPA names its target: it needs no wait for the Deployment to exist.
        autoscaler=autoscaler(name, workload, args.autoscaling, placement, parent),
        disruption_budget=disruption_budget(name, workload, placement, parent),
    )
