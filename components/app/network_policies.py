"""Zero-trust networking for the `tradesense` namespace: deny everything, then allow exactly
the flows the application needs.

  DNS                 every pod -> kube-system/kube-dns :53 UDP+TCP
  frontend :3000      <- edge
  backend  :8000      <- frontend, edge, Prometheus
  postgres :5432      <- backend, migrations, backup/maintenance pods, other instances (replication)
  postgres :5432,8000 <- the CloudNativePG operator (cnpg-system); :9187 <- Prometheus
  postgres egress     -> other instances :5432/:8000, the Kubernetes API (:443/:6443, the
                         instance manager watches its Cluster) and the object store (WAL, backups)
  redis    :6379      <- backend, backup/maintenance pods
  frontend egress     -> backend :8000 (server-side rendering)
  backend egress      -> postgres, redis, and HTTPS (443) to public addresses only
  migrations egress   -> postgres
  backup/maintenance  -> postgres, redis; backup pods also -> the object store
  ACME solver :8089   <- edge (cert-manager HTTP-01 challenges for certificates in this namespace)

Public addresses exclude private, carrier-grade NAT and link-local ranges (IPv4 and IPv6):
that blocks the cloud metadata endpoints (169.254.169.254, fd00:ec2::254) and the EKS Pod
Identity agent, and keeps in-cluster traffic to the explicit rules above. Backup and
maintenance pods (later issues) only need the `app.kubernetes.io/component` label to reach
the data stores.

The guide's example selected `app: nginx` pods in the app namespace; the edge actually runs in
its own namespace with its own labels, which the platform reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from components.app.monitoring_policies import monitoring_allow_specs
from components.app.placement import Placement
from components.platform.interface import PostgresOperator
from components.app.workloads import (
    BACKEND,
    DATA_STORE_CLIENT_COMPONENTS,
    FRONTEND,
    MIGRATIONS,
    POSTGRES,
    REDIS,
    Workload,
)
from components.secure_defaults import recommended_labels

NON_PUBLIC_IPV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
# fc00::/7 (unique local) holds AWS's IPv6 metadata address fd00:ec2::254; fe80::/10 is link-local.
NON_PUBLIC_IPV6 = ["fc00::/7", "fe80::/10"]


def same_namespace(workload: Workload) -> dict:
    return {"podSelector": {"matchLabels": workload.selector}}


def pods_in(namespace: str, labels: Mapping[str, str]) -> dict:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": dict(labels)},
    }


def tcp(port: int) -> dict:
    return {"protocol": "TCP", "port": port}


DATA_STORE_CLIENTS = {
    "podSelector": {
        "matchExpressions": [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": list(DATA_STORE_CLIENT_COMPONENTS)}
        ]
    }
}
PUBLIC_INTERNET = [
    {"ipBlock": {"cidr": "0.0.0.0/0", "except": NON_PUBLIC_IPV4}},
    {"ipBlock": {"cidr": "::/0", "except": NON_PUBLIC_IPV6}},
]
KUBE_DNS = pods_in("kube-system", {"k8s-app": "kube-dns"})
# cert-manager's HTTP-01 solver pods, created next to a Certificate (here with ingress-nginx).
ACME_SOLVER = {"acme.cert-manager.io/http01-solver": "true"}
ACME_SOLVER_PORT = 8089


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    placement: Placement
    edge_namespace: str
    edge_pod_labels: Mapping[str, str]
    prometheus_namespace: str
    prometheus_pod_labels: Mapping[str, str]
    postgres_operator: Optional[PostgresOperator] = None
    # Port of the S3 API (443 for S3/Spaces); None when backups are off.
    object_store_port: Optional[int] = None


# CloudNativePG labels every instance pod of the Cluster with its name.
POSTGRES_PODS = {"podSelector": {"matchLabels": {"cnpg.io/cluster": POSTGRES.name}}}
INSTANCE_MANAGER_PORT = 8000
POSTGRES_METRICS_PORT = 9187
# The API server's address differs per cloud (and NetworkPolicies see it after DNAT), so its
# ports are allowed to any address.
KUBE_API_PORTS = (443, 6443)
# ...to any address except link-local (cloud metadata, EKS Pod Identity).
KUBE_API = [
    {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}},
    {"ipBlock": {"cidr": "::/0", "except": NON_PUBLIC_IPV6}},
]


def policy_specs(args: NetworkPoliciesArgs) -> dict[str, dict]:
    edge = pods_in(args.edge_namespace, args.edge_pod_labels)
    prometheus = pods_in(args.prometheus_namespace, args.prometheus_pod_labels)

    def ingress(*peers: dict, port: int) -> dict:
        return {"from": list(peers), "ports": [tcp(port)]}

    def egress_to(workload: Workload) -> dict:
        if workload is POSTGRES:
            return {"to": [POSTGRES_PODS], "ports": [tcp(POSTGRES.port)]}
        return {"to": [same_namespace(workload)], "ports": [tcp(workload.port)]}

    object_store = []
    if args.object_store_port is not None:
        # S3/Spaces are public HTTPS; a dev endpoint may be anywhere on its own port.
        object_store = [{"to": PUBLIC_INTERNET, "ports": [tcp(443)]}]
        if args.object_store_port != 443:
            object_store.append({"ports": [tcp(args.object_store_port)]})
    postgres_ingress = [ingress(same_namespace(BACKEND), same_namespace(MIGRATIONS), DATA_STORE_CLIENTS, POSTGRES_PODS,
                                port=POSTGRES.port),
                        ingress(prometheus, port=POSTGRES_METRICS_PORT),
                        ingress(POSTGRES_PODS, port=INSTANCE_MANAGER_PORT)]
    if args.postgres_operator is not None:
        operator = pods_in(args.postgres_operator.namespace, args.postgres_operator.operator_pod_labels)
        postgres_ingress.append({"from": [operator], "ports": [tcp(POSTGRES.port), tcp(INSTANCE_MANAGER_PORT)]})

    return {
        "default-deny-all": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "allow-dns": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [KUBE_DNS], "ports": [{"protocol": "UDP", "port": 53}, tcp(53)]}],
        },
        "allow-frontend": {
            "podSelector": {"matchLabels": FRONTEND.selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [ingress(edge, port=FRONTEND.port)],
            "egress": [egress_to(BACKEND)],
        },
        "allow-backend": {
            "podSelector": {"matchLabels": BACKEND.selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [ingress(same_namespace(FRONTEND), edge, prometheus, port=BACKEND.port)],
            "egress": [egress_to(POSTGRES), egress_to(REDIS), {"to": PUBLIC_INTERNET, "ports": [tcp(443)]}],
        },
        "allow-migrations": {
            "podSelector": {"matchLabels": MIGRATIONS.selector},
            "policyTypes": ["Egress"],
            "egress": [egress_to(POSTGRES)],
        },
        "allow-data-store-clients": {
            "podSelector": DATA_STORE_CLIENTS["podSelector"],
            "policyTypes": ["Egress"],
            "egress": [egress_to(POSTGRES), egress_to(REDIS)],
        },
        **({"allow-backup-object-store": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "backup"}},
            "policyTypes": ["Egress"],
            "egress": object_store,
        }} if object_store else {}),
        "allow-postgres": {
            "podSelector": POSTGRES_PODS["podSelector"],
            "policyTypes": ["Ingress", "Egress"],
            "ingress": postgres_ingress,
            "egress": [
                {"to": [POSTGRES_PODS], "ports": [tcp(POSTGRES.port), tcp(INSTANCE_MANAGER_PORT)]},
                {"to": KUBE_API, "ports": [tcp(port) for port in KUBE_API_PORTS]},
                *object_store,
            ],
        },
        # Let's Encrypt reaches the solver through the edge; without this, default-deny would
        # stall every HTTP-01 challenge for certificates issued in this namespace.
        "allow-acme-http01-solver": {
            "podSelector": {"matchLabels": ACME_SOLVER},
            "policyTypes": ["Ingress"],
            "ingress": [ingress(edge, port=ACME_SOLVER_PORT)],
        },
        "allow-redis": {
            "podSelector": {"matchLabels": REDIS.selector},
            "policyTypes": ["Ingress"],
            "ingress": [ingress(same_namespace(BACKEND), DATA_STORE_CLIENTS, port=REDIS.port)],
        },
        **monitoring_allow_specs(prometheus),
    }


class NetworkPolicies(pulumi.ComponentResource):
    policies: tuple[k8s.networking.v1.NetworkPolicy, ...]

    def __init__(self, name: str, args: NetworkPoliciesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:app:NetworkPolicies", name, None, opts)
        self.policies = tuple(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata=args.placement.metadata(policy_name, recommended_labels(policy_name, "network-policy")),
                spec=spec,
                opts=args.placement.opts(self),
            )
            for policy_name, spec in policy_specs(args).items()
        )
        self.register_outputs({"policies": list(policy_specs(args))})
