"""The recorded NetworkPolicies, evaluated as a graph: for each pair of endpoints, is the
connection allowed or denied as the issue intends (zero trust in `tradesense`)?

The app's pods come from the recorded pod templates. The pods around them carry the labels
they have in a real cluster: the edge's data plane (Gateway API GEP-1762 label
`gateway.networking.k8s.io/gateway-name`), Prometheus (prometheus-operator's labels),
CoreDNS (`k8s-app: kube-dns`), and the backup/maintenance pods of later issues.
"""

from __future__ import annotations

import itertools

import pytest

from tests.app import platform_stub
from tests.app.k8s import manifest, objects, pod_templates
from tests.app.netpol_eval import External, Pod, Policy, allowed
from tests.conftest import STACKS

NS = "tradesense"


def recorded_policies(rec) -> list[Policy]:
    return [
        Policy(body["metadata"]["namespace"], body["metadata"]["name"], body["spec"])
        for body in (manifest(r) for r in objects(rec, "NetworkPolicy", namespace=None))
    ]


def app_pods(rec) -> dict[str, Pod]:
    pods = {}
    for index, (where, template) in enumerate(pod_templates(rec, NS)):
        labels = template["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
        name = labels["app.kubernetes.io/name"]
        pods[name] = Pod(name, NS, labels, f"10.244.1.{index + 10}", ports)
    return pods


def postgres_pods(rec) -> dict[str, Pod]:
    """CNPG instance pods as the operator labels them: the Cluster's inherited labels plus cnpg.io/*."""
    (cluster,) = [manifest(r) for r in objects(rec, "Cluster")]
    labels = {**cluster["spec"]["inheritedMetadata"]["labels"], "cnpg.io/cluster": cluster["metadata"]["name"], "cnpg.io/podRole": "instance"}
    ports = {"postgresql": 5432, "status": 8000, "metrics": 9187}
    return {"postgres": Pod("postgres-1", NS, {**labels, "cnpg.io/instanceName": "postgres-1"}, "10.244.1.20", ports),
            "postgres-replica": Pod("postgres-2", NS, {**labels, "cnpg.io/instanceName": "postgres-2"}, "10.244.5.20", ports)}


def operator_pod(rec) -> Pod:
    releases = {r.inputs["chart"]: r for r in rec.of_type("kubernetes:helm.sh/v3:Release")}
    if "cloudnative-pg" in releases:
        return Pod("cnpg", releases["cloudnative-pg"].inputs["namespace"], {"app.kubernetes.io/name": "cloudnative-pg",
                                                                            "app.kubernetes.io/instance": "cloudnative-pg"}, "10.244.6.10")
    return Pod("cnpg", platform_stub.OPERATOR_NAMESPACE, platform_stub.OPERATOR_POD_LABELS, "10.244.6.10")


def world(rec, edge_ns: str, edge_labels: dict, prometheus_ns: str, prometheus_labels: dict):
    pods = {**app_pods(rec), **postgres_pods(rec)}
    assert {"frontend", "backend", "backend-migrations", "postgres", "redis", "redis-backup", "restore-drill"} <= set(pods) \
        or {"frontend", "backend", "backend-migrations", "postgres", "redis", "postgres-vacuum"} <= set(pods)
    backend_labels = dict(pods["backend"].labels)
    sources = {
        "frontend": pods["frontend"],
        "backend": pods["backend"],
        "migrations": pods["backend-migrations"],
        "postgres": pods["postgres"],
        "postgres-replica": pods["postgres-replica"],
        "postgres-operator": operator_pod(rec),
        "redis": pods["redis"],
        "backup": Pod("backup", NS, {"app.kubernetes.io/name": "postgres-backup", "app.kubernetes.io/component": "backup",
                                     "app.kubernetes.io/part-of": "tradesense"}, "10.244.1.50"),
        "maintenance": Pod("maintenance", NS, {"app.kubernetes.io/name": "vacuum", "app.kubernetes.io/component": "maintenance"},
                           "10.244.1.51"),
        "intruder": Pod("intruder", NS, {"app.kubernetes.io/name": "debug-shell"}, "10.244.1.52"),
        "edge": Pod("edge", edge_ns, edge_labels, "10.244.2.10"),
        "prometheus": Pod("prometheus", prometheus_ns, prometheus_labels, "10.244.3.10"),
        "grafana": Pod("grafana", prometheus_ns, {"app.kubernetes.io/name": "grafana"}, "10.244.3.11"),
        # Another namespace, wearing the backend's labels: must not pass for the backend.
        "impostor": Pod("impostor", "default", backend_labels, "10.244.4.10"),
        "internet-client": External("203.0.113.7"),
    }
    kube_dns = Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, "10.244.0.2", {"dns": 53, "dns-tcp": 53})
    # What cert-manager creates for an HTTP-01 challenge of a Certificate in this namespace.
    acme_solver = Pod("cm-acme-http-solver-x7k2p", NS, {"acme.cert-manager.io/http01-solver": "true"}, "10.244.1.60", {"http": 8089})
    destinations = {
        "frontend:3000": (pods["frontend"], 3000, "TCP"),
        "backend:8000": (pods["backend"], 8000, "TCP"),
        "backend:9090": (pods["backend"], 9090, "TCP"),
        "postgres:5432": (pods["postgres"], 5432, "TCP"),
        "postgres:8000": (pods["postgres"], 8000, "TCP"),
        "postgres:9187": (pods["postgres"], 9187, "TCP"),
        "kube-api:6443": (External("10.0.0.1"), 6443, "TCP"),
        "redis:6379": (pods["redis"], 6379, "TCP"),
        "acme-solver:8089": (acme_solver, 8089, "TCP"),
        "dns:53/udp": (kube_dns, 53, "UDP"),
        "dns:53/tcp": (kube_dns, 53, "TCP"),
        "internet:443": (External("93.184.216.34"), 443, "TCP"),
        "internet:80": (External("93.184.216.34"), 80, "TCP"),
        "internet-v6:443": (External("2606:4700:4700::1111"), 443, "TCP"),
        "metadata:80": (External("169.254.169.254"), 80, "TCP"),
        "metadata:443": (External("169.254.169.254"), 443, "TCP"),
        "eks-pod-identity:80": (External("169.254.170.23"), 80, "TCP"),
        "metadata-v6:80": (External("fd00:ec2::254"), 80, "TCP"),
        "vpc-private:443": (External("10.0.12.34"), 443, "TCP"),
    }
    return sources, destinations


APP_SOURCES = ("frontend", "backend", "migrations", "postgres", "postgres-replica", "redis", "backup", "maintenance", "intruder")
DNS = {(source, dns) for source in APP_SOURCES for dns in ("dns:53/udp", "dns:53/tcp")}
# The intent, written out. Every other pair involving a `tradesense` pod is denied.
INTENDED = DNS | {
    ("edge", "frontend:3000"),
    # Let's Encrypt's HTTP-01 request arrives through the edge.
    ("edge", "acme-solver:8089"),
    ("frontend", "backend:8000"),
    ("edge", "backend:8000"),
    ("prometheus", "backend:8000"),
    ("backend", "postgres:5432"),
    ("backend", "redis:6379"),
    ("migrations", "postgres:5432"),
    ("backup", "postgres:5432"),
    ("backup", "redis:6379"),
    ("maintenance", "postgres:5432"),
    ("maintenance", "redis:6379"),
    ("backend", "internet:443"),
    ("backend", "internet-v6:443"),
    # CloudNativePG: the operator reaches the instance manager and Postgres; instances
    # replicate from each other; Prometheus scrapes the metrics port.
    ("postgres-operator", "postgres:5432"),
    ("postgres-operator", "postgres:8000"),
    ("postgres-replica", "postgres:5432"),
    ("postgres-replica", "postgres:8000"),
    ("postgres", "postgres:5432"),
    ("postgres", "postgres:8000"),
    ("prometheus", "postgres:9187"),
} | {
    # The instance manager watches its Cluster through the API server (any address, either port).
    (instance, api) for instance in ("postgres", "postgres-replica")
    for api in ("kube-api:6443", "vpc-private:443", "internet:443", "internet-v6:443")
}
# Where backups are on: the backup jobs reach the object store (public HTTPS).
OBJECT_STORE = {("backup", "internet:443"), ("backup", "internet-v6:443")}


def intended(rec) -> set:
    return INTENDED | (OBJECT_STORE if objects(rec, "ObjectStore") else set())


def involves_app(source, destination) -> bool:
    return any(isinstance(e, Pod) and e.namespace == NS for e in (source, destination))


def actual_matrix(rec, sources, destinations) -> dict[tuple[str, str], bool]:
    policies = recorded_policies(rec)
    matrix = {}
    for (src_name, src), (dst_name, (dst, port, protocol)) in itertools.product(sources.items(), destinations.items()):
        if involves_app(src, dst):
            matrix[(src_name, dst_name)] = allowed(policies, src, dst, port, protocol)
    return matrix


def assert_matrix(matrix: dict[tuple[str, str], bool], rec) -> None:
    expected = intended(rec)
    wrongly_denied = sorted(pair for pair in expected if pair in matrix and not matrix[pair])
    wrongly_allowed = sorted(pair for pair, ok in matrix.items() if ok and pair not in expected)
    assert not wrongly_denied and not wrongly_allowed, f"denied: {wrongly_denied}\nallowed: {wrongly_allowed}"
    assert expected <= set(matrix)


def test_policy_graph_with_a_hand_built_platform(stub_run):
    rec = stub_run("prod")
    sources, destinations = world(
        rec,
        platform_stub.EDGE_NAMESPACE, {**platform_stub.EDGE_POD_LABELS, "pod-template-hash": "abc"},
        platform_stub.MONITORING_NAMESPACE, {**platform_stub.PROMETHEUS_POD_LABELS, "statefulset.kubernetes.io/pod-name": "p-0"},
    )
    assert_matrix(actual_matrix(rec, sources, destinations), rec)


@pytest.mark.parametrize("stack", STACKS)
def test_policy_graph_with_the_real_platform(recordings, stack):
    rec = recordings[stack]
    gateways = [manifest(r) for r in objects(rec, "Gateway", namespace=None)]
    assert len(gateways) == 1
    gateway = gateways[0]["metadata"]
    monitoring_ns = next(
        r.inputs["namespace"] for r in rec.of_type("kubernetes:helm.sh/v3:Release") if "kube-prometheus-stack" in r.inputs["chart"]
    )
    sources, destinations = world(
        rec,
        gateway["namespace"], {"gateway.networking.k8s.io/gateway-name": gateway["name"], "app.kubernetes.io/name": "nginx"},
        monitoring_ns, {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator",
                        "operator.prometheus.io/name": "kube-prometheus-stack-prometheus"},
    )
    assert_matrix(actual_matrix(rec, sources, destinations), rec)


def test_the_namespace_is_default_deny_in_both_directions(recordings):
    for policy in recorded_policies(recordings["prod"]):
        if policy.spec["podSelector"] == {} and not policy.spec.get("ingress") and not policy.spec.get("egress"):
            assert set(policy.spec["policyTypes"]) == {"Ingress", "Egress"}
            return
    pytest.fail("no default-deny policy selecting every pod in tradesense")


def test_the_evaluator_sees_a_missing_allow(stub_run):
    """Drop one allow policy: the evaluator must report the flows it carried as denied."""
    rec = stub_run("prod")
    sources, destinations = world(rec, platform_stub.EDGE_NAMESPACE, platform_stub.EDGE_POD_LABELS,
                                  platform_stub.MONITORING_NAMESPACE, platform_stub.PROMETHEUS_POD_LABELS)
    policies = [p for p in recorded_policies(rec) if not p.spec.get("egress") or "dns" not in p.name]
    frontend, (dns, port, protocol) = sources["frontend"], destinations["dns:53/udp"]
    assert allowed(recorded_policies(rec), frontend, dns, port, protocol)
    assert not allowed(policies, frontend, dns, port, protocol)


def test_the_evaluator_treats_an_unrestricted_ip_block_as_reaching_pods():
    """0.0.0.0/0 without excepts also matches pod IPs: the reason the backend's internet rule
    excludes private ranges."""
    backend = Pod("backend", NS, {"app": "backend"}, "10.244.1.1")
    postgres = Pod("postgres", NS, {"app": "postgres"}, "10.244.1.2")
    policies = [
        Policy(NS, "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        Policy(NS, "open", {"podSelector": {"matchLabels": {"app": "backend"}}, "policyTypes": ["Egress"],
                            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}),
        Policy(NS, "pg", {"podSelector": {"matchLabels": {"app": "postgres"}}, "ingress": [{}]}),
    ]
    assert allowed(policies, backend, postgres, 5432)
    assert not allowed(policies, postgres, backend, 8000)
