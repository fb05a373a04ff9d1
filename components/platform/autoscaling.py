"""metrics-server where the cluster lacks one (so HPAs work), cluster-autoscaler on EKS.

cluster-autoscaler gets AWS access only through IRSA: a role that exactly its ServiceAccount
can assume, allowed to read autoscaling state and to scale only the groups tagged
`k8s.io/cluster-autoscaler/<cluster>=owned` (EKS managed node groups carry that tag). It
discovers them by those tags and owns the node group's desired size from then on. DOKS scales
its node pool itself (`node_autoscaler == "provider"`); the local cluster does not scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.interface import ClusterInterface
from components.platform import charts
from components.platform.mirrors import Mirrors
from components.platform.chart_defaults import locked_container_context, pod_context, resources

CLUSTER_AUTOSCALER_SA = "cluster-autoscaler"
# cluster-autoscaler's minor version must match the cluster's; the chart defaults to the newest.
# cluster-autoscaler's minor must match the cluster's. 1.33 left EKS standard support in July 2026.
CLUSTER_AUTOSCALER_IMAGES = {"1.34": "v1.34.4", "1.35": "v1.35.1"}
NOBODY = 65534


def cluster_autoscaler_policy(cluster_name: str) -> dict:
    """Least privilege for auto-discovery: read everywhere, scale only this cluster's groups."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadAutoscalingState",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                "Resource": "*",
            },
            {
                "Sid": "ScaleOwnedNodeGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
        ],
    }


@dataclass(frozen=True)
class AutoscalingArgs:
    cluster: ClusterInterface
    namespace: k8s.core.v1.Namespace
    namespace_name: str
    kubernetes_version: Optional[str]
    mirrors: Mirrors
    # The release whose CRDs the charts' ServiceMonitors need (kube-prometheus-stack).
    monitoring_crds: Optional[pulumi.Resource] = None
    highly_available: bool = True


class Autoscaling(pulumi.ComponentResource):
    metrics_server: Optional[k8s.helm.v3.Release] = None
    cluster_autoscaler: Optional[k8s.helm.v3.Release] = None

    def __init__(self, name: str, args: AutoscalingArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:Autoscaling", name, None, opts)
        cluster = args.cluster
        if not cluster.has_metrics_server:
            self.metrics_server = charts.helm_release(
                f"{name}-metrics-server",
                charts.METRICS_SERVER,
                args.namespace_name,
                self._metrics_server_values(args),
                mirrors=args.mirrors, parent=self,
                provider=cluster.provider,
                depends_on=[args.namespace, *([args.monitoring_crds] if args.monitoring_crds else []), *args.cluster.workloads_ready],
            )
        if cluster.node_autoscaler == "cluster-autoscaler":
            # Config validation guarantees a pinned image for the cluster's minor.
            image = CLUSTER_AUTOSCALER_IMAGES[args.kubernetes_version or ""]
            annotations = cluster.identity.bind(
                f"{name}-cluster-autoscaler",
                args.namespace_name,
                CLUSTER_AUTOSCALER_SA,
                policy_json=cluster.name.apply(lambda n: json.dumps(cluster_autoscaler_policy(n))),
                parent=self,
            )
            self.cluster_autoscaler = charts.helm_release(
                f"{name}-cluster-autoscaler",
                charts.CLUSTER_AUTOSCALER,
                args.namespace_name,
                self._cluster_autoscaler_values(args, image, annotations),
                mirrors=args.mirrors, parent=self,
                provider=cluster.provider,
                depends_on=[args.namespace, *([args.monitoring_crds] if args.monitoring_crds else []), *args.cluster.workloads_ready],
            )
        self.register_outputs({})

    @staticmethod
    def _metrics_server_values(args: AutoscalingArgs) -> dict:
        values: dict = {
            "replicas": 2 if args.highly_available else 1,
            "podDisruptionBudget": {"enabled": args.highly_available, "minAvailable": 1},
            "resources": resources("50m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
            "securityContext": locked_container_context() | {"runAsUser": 1000},
            # Its /metrics endpoint is scraped by Prometheus through the chart's ServiceMonitor.
            "metrics": {"enabled": True},
            "serviceMonitor": {"enabled": True},
        }
        if args.cluster.kubelet_insecure_tls:
            # Only by explicit config (cluster.existing.kubeletInsecureTls): a local kind/minikube
            # whose kubelets serve self-signed certificates. Everywhere else the certificates are checked.
            values["args"] = ["--kubelet-insecure-tls"]
        return values

    @staticmethod
    def _cluster_autoscaler_values(args: AutoscalingArgs, image_tag: str, sa_annotations) -> dict:
        return {
            "cloudProvider": "aws",
            "awsRegion": args.cluster.region,
            "autoDiscovery": {"clusterName": args.cluster.name},
            "image": {"tag": image_tag},
            "rbac": {
                "create": True,
                "serviceAccount": {"create": True, "name": CLUSTER_AUTOSCALER_SA, "annotations": sa_annotations},
            },
            "extraArgs": {
                "balance-similar-node-groups": True,
                "expander": "least-waste",
                "skip-nodes-with-local-storage": False,
            },
            "resources": resources("100m", "300Mi", cpu_limit="500m", memory_limit="600Mi"),
            # Scraped through the chart's ServiceMonitor, kept next to the release.
            "serviceMonitor": {"enabled": True, "namespace": args.namespace_name},
            "securityContext": pod_context(NOBODY),
            "containerSecurityContext": locked_container_context(),
        }
