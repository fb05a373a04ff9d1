"""The platform layer: namespaces, edge, cert-manager, monitoring and autoscaling on any cluster.

Takes only the cluster interface (no cloud SDK) and hands the app layer a `PlatformInterface`.
Order on an empty cluster: namespaces -> Gateway API CRDs -> edge controller and cert-manager
(in parallel) -> Gateway and issuers -> certificate; monitoring and autoscaling in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi

from components.cluster.interface import ClusterInterface
from components.config import StackConfig
from components.platform import alertmanager_config
from components.platform.autoscaling import Autoscaling, AutoscalingArgs
from components.platform.cert_manager import CertManager, CertManagerArgs
from components.platform.cnpg import NAMESPACE as CNPG_NAMESPACE
from components.platform.cnpg import OPERATOR_POD_LABELS, PLUGIN_POD_LABELS, CloudNativePg, CloudNativePgArgs
from components.platform.config import PlatformConfig
from components.platform.edge_gateway_api import GatewayApiEdge, GatewayApiEdgeArgs
from components.platform.edge_ingress_nginx import IngressNginxEdge, IngressNginxEdgeArgs
from components.platform.interface import PlatformInterface, PostgresOperator
from components.platform.monitoring import DASHBOARD_LABEL, PROMETHEUS_POD_LABELS, Monitoring, MonitoringArgs
from components.platform.review_access import DEPLOYER_NAMESPACE, ReviewDeployerAccess, ReviewDeployerAccessArgs
from components.platform.review_edge import ReviewWildcard
from components.platform.namespaces import PRIVILEGED, RESTRICTED, NamespaceSpec, PlatformNamespaces, PlatformNamespacesArgs

APP_NAMESPACE = "tradesense"
MONITORING_NAMESPACE = "monitoring"
NODE_EXPORTER_NAMESPACE = "node-exporter"
CERT_MANAGER_NAMESPACE = "cert-manager"
AUTOSCALING_NAMESPACE = "autoscaling"
EDGE_NAMESPACES = {"gateway-api": "nginx-gateway", "ingress-nginx": "ingress-nginx"}
TLS_SECRET = "tradesense-tls"


@dataclass(frozen=True)
class PlatformArgs:
    cluster: ClusterInterface
    config: PlatformConfig
    env: str
    protect: bool
    alertmanager_receivers: Optional[pulumi.Output[str]]
    # The cluster's Kubernetes minor (EKS), for version-matched add-ons.
    kubernetes_version: Optional[str] = None
    # API token of platform.reviewEnvironments.dns01Provider.
    dns01_token: Optional[pulumi.Output[str]] = None


def namespace_specs(cfg: PlatformConfig, cluster: ClusterInterface) -> tuple[NamespaceSpec, ...]:
    specs = [
        NamespaceSpec(APP_NAMESPACE, RESTRICTED, "TradeSense workloads", stateful=True),
        NamespaceSpec(EDGE_NAMESPACES[cfg.edge], RESTRICTED, f"edge ({cfg.edge})"),
        NamespaceSpec(CERT_MANAGER_NAMESPACE, RESTRICTED, "cert-manager"),
        NamespaceSpec(CNPG_NAMESPACE, RESTRICTED, "CloudNativePG operator and barman-cloud plugin"),
        NamespaceSpec(MONITORING_NAMESPACE, RESTRICTED, "Prometheus, Alertmanager, Grafana", stateful=True),
        NamespaceSpec(NODE_EXPORTER_NAMESPACE, PRIVILEGED, "node-exporter (host metrics need host access)"),
    ]
    if not cluster.has_metrics_server or cluster.node_autoscaler == "cluster-autoscaler":
        specs.append(NamespaceSpec(AUTOSCALING_NAMESPACE, RESTRICTED, "metrics-server, cluster-autoscaler"))
    if cfg.review_environments is not None:
        specs.append(NamespaceSpec(DEPLOYER_NAMESPACE, RESTRICTED, "the identity CI deploys review environments with"))
    return tuple(specs)


class Platform(pulumi.ComponentResource):
    interface: PlatformInterface
    grafana_admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: PlatformArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:Platform", name, None, opts)
        cfg, cluster = args.config, args.cluster
        ha = args.env != "dev"
        child = pulumi.ResourceOptions(parent=self)
        mirrors = cfg.mirrors

        namespaces = PlatformNamespaces(
            f"{name}-namespaces",
            PlatformNamespacesArgs(namespace_specs(cfg, cluster), cluster.provider, protect=args.protect),
            opts=child,
        ).by_name
        edge_ns = EDGE_NAMESPACES[cfg.edge]
        review = None if cfg.review_environments is None else ReviewWildcard(
            hostname=cfg.review_hostname, host_stack=pulumi.get_stack(),
            dns01_provider=cfg.review_environments.dns01_provider, dns01_token=args.dns01_token,
        )

        # Monitoring first: its CRDs (ServiceMonitor) must exist before the charts that ship monitors.
        monitoring = Monitoring(
            f"{name}-monitoring",
            MonitoringArgs(
                namespace=namespaces[MONITORING_NAMESPACE],
                namespace_name=MONITORING_NAMESPACE,
                node_exporter_namespace=namespaces[NODE_EXPORTER_NAMESPACE],
                node_exporter_namespace_name=NODE_EXPORTER_NAMESPACE,
                provider=cluster.provider,
                mirrors=mirrors,
                workloads_ready=cluster.workloads_ready,
                storage_class=cluster.storage_class,
                config=cfg.monitoring,
                receivers=args.alertmanager_receivers,
                highly_available=ha,
            ),
            opts=child,
        )

        if cfg.edge == "gateway-api":
            edge = GatewayApiEdge(
                f"{name}-edge",
                GatewayApiEdgeArgs(
                    namespace=namespaces[edge_ns],
                    namespace_name=edge_ns,
                    app_namespace=APP_NAMESPACE,
                    hostnames=cfg.hostnames,
                    tls_secret_name=TLS_SECRET,
                    load_balancer_annotations=cluster.load_balancer_annotations,
                    service_type=cfg.edge_service_type,
                    replicas=cfg.edge_replicas,
                    provider=cluster.provider,
                    mirrors=mirrors,
                    monitoring_crds=monitoring.release,
                    workloads_ready=cluster.workloads_ready,
                    review_wildcard=review,
                ),
                opts=child,
            )
        else:
            edge = IngressNginxEdge(
                f"{name}-edge",
                IngressNginxEdgeArgs(
                    namespace=namespaces[edge_ns],
                    namespace_name=edge_ns,
                    app_namespace=APP_NAMESPACE,
                    load_balancer_annotations=cluster.load_balancer_annotations,
                    service_type=cfg.edge_service_type,
                    replicas=cfg.edge_replicas,
                    provider=cluster.provider,
                    mirrors=mirrors,
                    monitoring_crds=monitoring.release,
                    workloads_ready=cluster.workloads_ready,
                ),
                opts=child,
            )

        cert_manager = CertManager(
            f"{name}-cert-manager",
            CertManagerArgs(
                namespace=namespaces[CERT_MANAGER_NAMESPACE],
                namespace_name=CERT_MANAGER_NAMESPACE,
                provider=cluster.provider,
                mirrors=mirrors,
                workloads_ready=cluster.workloads_ready,
                issuer=cfg.issuer_for(args.env),
                acme_email=cfg.acme_email,
                acme_solver=edge.acme_solver,
                hostnames=cfg.hostnames,
                tls_secret_name=TLS_SECRET,
                certificate_namespace=namespaces[edge.certificate_namespace],
                certificate_namespace_name=edge.certificate_namespace,
                gateway_api_crds=edge.crds,
                certificate_waits_for=edge.certificate_waits_for,
                highly_available=ha,
                monitoring_crds=monitoring.release,
                review_wildcard=review,
            ),
            opts=child,
        )

        cnpg = CloudNativePg(f"{name}-cnpg", CloudNativePgArgs(
            namespace=namespaces[CNPG_NAMESPACE], provider=cluster.provider,
            cert_manager=cert_manager.release, highly_available=ha, mirrors=mirrors, nodes_ready=cluster.nodes_ready,
        ), opts=child)

        if cfg.review_environments is not None:
            ReviewDeployerAccess(f"{name}-review-access", ReviewDeployerAccessArgs(
                namespace=namespaces[DEPLOYER_NAMESPACE], provider=cluster.provider, host_stack=pulumi.get_stack(),
            ), opts=child)

        if AUTOSCALING_NAMESPACE in namespaces:
            Autoscaling(
                f"{name}-autoscaling",
                AutoscalingArgs(
                    cluster=cluster,
                    namespace=namespaces[AUTOSCALING_NAMESPACE],
                    namespace_name=AUTOSCALING_NAMESPACE,
                    kubernetes_version=args.kubernetes_version,
                    mirrors=mirrors,
                    monitoring_crds=monitoring.release,
                    highly_available=ha,
                ),
                opts=child,
            )

        hostnames = cfg.hostnames
        self.grafana_admin_password = monitoring.grafana_admin_password
        self.interface = PlatformInterface(
            edge=edge.interface,
            domain=hostnames[0],
            hostnames=hostnames,
            api_hostname=hostnames[2],
            app_namespace=APP_NAMESPACE,
            monitoring_namespace=MONITORING_NAMESPACE,
            tls_secret_name=TLS_SECRET,
            tls_secret_namespace=edge.certificate_namespace,
            prometheus_pod_labels=dict(PROMETHEUS_POD_LABELS),
            # Prometheus selects ServiceMonitors and PrometheusRules everywhere: no label needed.
            monitoring_labels={},
            dashboard_label=dict(DASHBOARD_LABEL),
            monitoring_crds=monitoring.release,
            namespaces=dict(namespaces),
            postgres_operator=PostgresOperator(
                namespace=CNPG_NAMESPACE, operator_pod_labels=dict(OPERATOR_POD_LABELS),
                plugin_pod_labels=dict(PLUGIN_POD_LABELS), ready=(cnpg.operator,), plugin_ready=(cnpg.plugin,),
            ),
        )
        self.register_outputs({"edge": cfg.edge, "hostnames": list(hostnames)})


def build_platform(cfg: StackConfig, cluster: ClusterInterface) -> Platform:
    """Build the platform for the stack and export what an operator needs from it."""
    settings = cfg.settings.platform
    # Required outside dev (components/config.py); dev without it routes to the null receiver.
    receivers = cfg.secret(alertmanager_config.SECRET_KEY)
    cluster_settings = cfg.settings.cluster
    platform = Platform(
        "platform",
        PlatformArgs(
            cluster=cluster,
            config=settings,
            env=cfg.env,
            protect=cfg.protect,
            alertmanager_receivers=receivers,
            kubernetes_version=cluster_settings.eks.version if cluster_settings.cloud == "eks" else None,
            dns01_token=cfg.secret("dns01ApiToken"),
        ),
    )
    return platform
