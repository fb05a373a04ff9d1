"""Where app objects go: one namespace, one provider, after the namespace exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class Placement:
    namespace: str
    provider: k8s.Provider
    # Resources every object waits for (the namespace itself).
    prerequisites: tuple[pulumi.Resource, ...] = ()
    # What pod-running objects also wait for (ClusterInterface.workloads_ready: nodes, DNS, storage).
    workloads_ready: tuple[pulumi.Resource, ...] = ()

    def opts(
        self,
        parent: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource] = (),
        runs_pods: bool = False,
        **options,
    ) -> pulumi.ResourceOptions:
        ready = self.workloads_ready if runs_pods else ()
        return pulumi.ResourceOptions(
            parent=parent,
            provider=self.provider,
            depends_on=[*self.prerequisites, *ready, *depends_on],
            **options,
        )

    def metadata(
        self,
        name: str,
        labels: Mapping[str, str],
        annotations: Optional[Mapping[str, str]] = None,
    ) -> dict:
        meta = {"name": name, "namespace": self.namespace, "labels": dict(labels)}
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta
