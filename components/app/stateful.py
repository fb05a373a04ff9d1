"""The shape Postgres and Redis share: one-replica StatefulSet, headless Service, PVC template.

PVCs are retained when the StatefulSet is deleted or scaled down, in every stack: if the
StatefulSet is ever replaced, the new one re-attaches `data-<name>-0` instead of starting
empty. Outside prod, `pulumi destroy` still removes the data, because deleting the namespace
deletes its PVCs. In prod the data must outlive the stack: the StatefulSet is protected
(destroy refuses) and retained on delete (if protection is lifted, Pulumi forgets it instead
of deleting it), the namespace is protected, and the StorageClass reclaims with Retain.

The volume template is immutable in Kubernetes, so Pulumi ignores later changes to it:
`storage` is the size at creation, and a volume grows by expanding its PVC (see docs/DEPLOY.md).

No PodDisruptionBudget: with one replica any budget either blocks every node drain
(maxUnavailable 0) or allows the only pod to go (maxUnavailable 1), which is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app.placement import Placement
from components.app.pods import PodSpec, pod_template, service_account
from components.app.workloads import Workload

DATA_VOLUME = "data"


def data_store_template(pod: PodSpec) -> dict:
    template = pod_template(pod)
    # A data store pinned to a zonal volume must not be moved by a scale-down: the node group
    # cannot be grown in a chosen zone, so the pod could stay Pending.
    template["metadata"].setdefault("annotations", {})["cluster-autoscaler.kubernetes.io/safe-to-evict"] = "false"
    return template


@dataclass(frozen=True)
class StatefulStoreArgs:
    workload: Workload
    placement: Placement
    pod: PodSpec
    storage: str
    storage_class: str
    # Prod: protect the StatefulSet and keep its volumes when it is deleted.
    retain_data: bool
    depends_on: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True)
class StatefulStore:
    service_account: k8s.core.v1.ServiceAccount
    service: k8s.core.v1.Service
    stateful_set: k8s.apps.v1.StatefulSet


def data_mount(path: str) -> dict:
    return {"name": DATA_VOLUME, "mountPath": path}


def stateful_store(name: str, parent: pulumi.Resource, args: StatefulStoreArgs) -> StatefulStore:
    workload, placement = args.workload, args.placement
    account = service_account(name, workload, placement, parent)
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata=placement.metadata(workload.name, workload.labels()),
        spec={
            # Headless: stable per-pod DNS for the StatefulSet, no virtual IP in between.
            "clusterIP": "None",
            "selector": workload.selector,
            "ports": [{"name": workload.name, "port": workload.port, "targetPort": workload.port, "protocol": "TCP"}],
        },
        opts=placement.opts(parent),
    )
    stateful_set = k8s.apps.v1.StatefulSet(
        f"{name}-stateful-set",
        metadata=placement.metadata(workload.name, workload.labels(args.pod.version)),
        spec={
            "serviceName": workload.name,
            "replicas": 1,
            "selector": {"matchLabels": workload.selector},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "template": data_store_template(args.pod),
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": DATA_VOLUME, "labels": workload.labels()},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": args.storage_class,
                        "resources": {"requests": {"storage": args.storage}},
                    },
                }
            ],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
        opts=placement.opts(
            parent,
            [account, service, *args.depends_on],
            runs_pods=True,
            protect=args.retain_data,
            retain_on_delete=args.retain_data,
            ignore_changes=["spec.volumeClaimTemplates"],
        ),
    )
    return StatefulStore(account, service, stateful_set)
