"""Stack outputs: what operators and CI read with `pulumi stack output`."""

from __future__ import annotations

import pulumi

from components.cluster.interface import ClusterInterface
from components.platform.platform import Platform


def export_outputs(cluster: ClusterInterface, platform: Platform) -> None:
    pulumi.export("clusterName", cluster.name)
    pulumi.export("cloud", cluster.cloud)
    pulumi.export("region", cluster.region)
    if cluster.kubeconfig is not None:
        pulumi.export("kubeconfig", pulumi.Output.secret(cluster.kubeconfig))
    pulumi.export("edge", platform.interface.edge.kind)
    pulumi.export("hostnames", list(platform.interface.hostnames))
    pulumi.export("grafanaAdminPassword", pulumi.Output.secret(platform.grafana_admin_password))
