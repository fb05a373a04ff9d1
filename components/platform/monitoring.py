"""kube-prometheus-stack: Prometheus Operator, Prometheus, Alertmanager, Grafana, exporters.

- Prometheus keeps data on a PVC of the cluster's storage class, bounded by retention and size.
- The operator picks up ServiceMonitors, PodMonitors and PrometheusRules from every namespace
  (`*SelectorNilUsesHelmValues: false` turns the chart's release-label filter off).
- The Grafana admin password is generated here, stays a Pulumi secret, and reaches Grafana
  through a Kubernetes Secret (`admin.existingSecret`), never through Helm values, which Helm
  stores in plain text in its release Secret.
- Alertmanager reads a Secret rendered from the secret receivers config.
- Control-plane scrapes (etcd, scheduler, controller-manager, kube-proxy) are off: managed
  control planes and kind do not expose them, and their alerts would fire forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.platform import alertmanager_config, charts
from components.platform.chart_defaults import container_context, locked_container_context, pod_context, resources
from components.platform.config import MonitoringConfig
from components.platform.mirrors import Mirrors
from components.secure_defaults import recommended_labels

RELEASE_NAME = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET = "grafana-admin"
ALERTMANAGER_SECRET = "alertmanager-tradesense"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus"}
# Pod and group ids of the upstream images (prometheus: nobody-like 1000/2000, grafana: 472).
PROMETHEUS_UID, PROMETHEUS_GID = 1000, 2000
GRAFANA_UID = 472
OPERATOR_UID = 65534
# Default rule groups the app's alerting relies on instead of copying them (docs/RUNBOOK.md).
DEFAULT_RULE_GROUPS = ("kubernetesApps", "kubernetesStorage")


@dataclass(frozen=True)
class MonitoringArgs:
    namespace: k8s.core.v1.Namespace
    namespace_name: str
    node_exporter_namespace: k8s.core.v1.Namespace
    node_exporter_namespace_name: str
    provider: k8s.Provider
    storage_class: str
    mirrors: Mirrors
    config: MonitoringConfig
    # The secret receivers config, or None (alerts then go to the `null` receiver).
    receivers: Optional[pulumi.Output[str]]
    highly_available: bool = True
    # ClusterInterface.workloads_ready: the release's pods need nodes, DNS and storage.
    workloads_ready: tuple = ()


class Monitoring(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    grafana_admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:platform:Monitoring", name, None, opts)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.namespace])

        password = random.RandomPassword(
            f"{name}-grafana-admin-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        grafana_admin = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={
                "name": GRAFANA_ADMIN_SECRET,
                "namespace": args.namespace_name,
                "labels": recommended_labels("grafana", "monitoring"),
            },
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": self.grafana_admin_password},
            opts=in_cluster,
        )

        receivers = args.receivers if args.receivers is not None else pulumi.Output.from_input("")
        alertmanager = k8s.core.v1.Secret(
            f"{name}-alertmanager-config",
            metadata={
                "name": ALERTMANAGER_SECRET,
                "namespace": args.namespace_name,
                "labels": recommended_labels("alertmanager", "monitoring"),
            },
            type="Opaque",
            string_data={alertmanager_config.CONFIG_FILE: pulumi.Output.secret(receivers.apply(alertmanager_config.render))},
            opts=in_cluster,
        )

        self.release = charts.helm_release(
            f"{name}-kube-prometheus-stack",
            charts.KUBE_PROMETHEUS_STACK,
            args.namespace_name,
            self._values(args),
            mirrors=args.mirrors,
            parent=self,
            provider=args.provider,
            depends_on=[args.namespace, args.node_exporter_namespace, grafana_admin, alertmanager, *args.workloads_ready],
            release_name=RELEASE_NAME,
        )
        self.register_outputs({"release": self.release.name, "grafanaAdminPassword": self.grafana_admin_password})

    @staticmethod
    def _values(args: MonitoringArgs) -> dict:
        cfg = args.config
        replicas = 2 if args.highly_available else 1
        prometheus_pod = pod_context(PROMETHEUS_UID, fs_group=PROMETHEUS_GID) | {"runAsGroup": PROMETHEUS_GID}
        operator_pod = pod_context(OPERATOR_UID, fs_group=OPERATOR_UID)

        def volume(size: str) -> dict:
            return {
                "volumeClaimTemplate": {
                    "spec": {
                        "storageClassName": args.storage_class,
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": size}},
                    }
                }
            }

        return {
            "crds": {"enabled": True},
            "defaultRules": {
                "create": True,
                # kubernetesApps (crash-looping/pending pods, HPA maxed, failed Jobs) and
                # kubernetesStorage (PVCs filling) are relied on by the app's alerting: kept on.
                "rules": {"etcd": False, "kubeControllerManager": False, "kubeSchedulerAlerting": False,
                          "kubeSchedulerRecording": False, "kubeProxy": False,
                          **{group: True for group in DEFAULT_RULE_GROUPS}},
            },
            "kubeEtcd": {"enabled": False},
            "kubeControllerManager": {"enabled": False},
            "kubeScheduler": {"enabled": False},
            "kubeProxy": {"enabled": False},
            "prometheusOperator": {
                "resources": resources("100m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
                "securityContext": operator_pod,
                "containerSecurityContext": locked_container_context(),
                "prometheusConfigReloader": {"resources": resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi")},
                "admissionWebhooks": {
                    "patch": {
                        "resources": resources("10m", "32Mi", cpu_limit="100m", memory_limit="64Mi"),
                        "securityContext": operator_pod,
                    },
                },
            },
            "prometheus": {
                "prometheusSpec": {
                    "retention": cfg.retention,
                    "retentionSize": cfg.retention_size,
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "podMonitorSelectorNilUsesHelmValues": False,
                    "ruleSelectorNilUsesHelmValues": False,
                    "probeSelectorNilUsesHelmValues": False,
                    "scrapeConfigSelectorNilUsesHelmValues": False,
                    # Empty selectors: every namespace.
                    "serviceMonitorNamespaceSelector": {},
                    "podMonitorNamespaceSelector": {},
                    "ruleNamespaceSelector": {},
                    "resources": resources("500m", "2Gi", cpu_limit="2", memory_limit="4Gi"),
                    "securityContext": prometheus_pod,
                    "storageSpec": volume(cfg.storage_size),
                },
            },
            "alertmanager": {
                "alertmanagerSpec": {
                    "replicas": replicas,
                    # The config comes from our Secret, rendered from secret config.
                    "useExistingSecret": True,
                    "configSecret": ALERTMANAGER_SECRET,
                    "resources": resources("50m", "128Mi", cpu_limit="200m", memory_limit="256Mi"),
                    "securityContext": prometheus_pod,
                    "storage": volume(cfg.alertmanager_storage_size),
                },
            },
            "grafana": {
                "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
                # Without persistence the chart mounts an emptyDir `storage` volume at /var/lib/grafana
                # (database, plugins); /tmp is the only other place Grafana writes: the root stays read-only.
                "persistence": {"enabled": False},
                "extraEmptyDirMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                "initChownData": {"enabled": False},
                "testFramework": {"enabled": False},
                "resources": resources("100m", "256Mi", cpu_limit="500m", memory_limit="512Mi"),
                "securityContext": pod_context(GRAFANA_UID, fs_group=GRAFANA_UID),
                "containerSecurityContext": container_context(GRAFANA_UID),
                "sidecar": {
                    "resources": resources("20m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
                    "securityContext": locked_container_context(),
                    "dashboards": {
                        "enabled": True,
                        "label": next(iter(DASHBOARD_LABEL)),
                        "labelValue": DASHBOARD_LABEL["grafana_dashboard"],
                        "searchNamespace": "ALL",
                    },
                },
            },
            "kube-state-metrics": {
                "resources": resources("50m", "128Mi", cpu_limit="200m", memory_limit="256Mi"),
            },
            "prometheus-node-exporter": {
                # Needs host access: it lives in its own privileged namespace (see namespaces.py).
                "namespaceOverride": args.node_exporter_namespace_name,
                "resources": resources("50m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
            },
        }
