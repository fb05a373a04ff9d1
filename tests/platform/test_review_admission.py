"""Issue 21's review-confinement findings, each as the write an attacker would try (refused) next
to the clean look-alike the review app needs (admitted), through staging's real admission
policies (tests/platform/admission_eval.py)."""

from __future__ import annotations

import copy

import pytest

from tests.platform.admission_eval import admission
from tools.plan import build_plan

DEPLOYER = "system:serviceaccount:tradesense-review-ci:review-pr-7"
NS = "tradesense-pr-7"
DOMAIN = "staging.tradesense.com"


@pytest.fixture(scope="module")
def admit():
    return admission(build_plan("staging").recording)


CLUSTER = {"spec": {"instances": 1, "imageName": "ghcr.io/cloudnative-pg/postgresql:15.18-minimal-trixie",
                    "storage": {"size": "1Gi"}, "bootstrap": {"initdb": {"database": "tradesense", "owner": "tradesense"}}}}
ENDPOINT = {"port": "http", "path": "/metrics", "interval": "30s",
            "relabelings": [{"action": "replace", "targetLabel": "metrics_endpoint", "replacement": "custom"}]}
MONITOR = {"spec": {"selector": {"matchLabels": {"app": "backend"}}, "namespaceSelector": {"matchNames": [NS]}, "endpoints": [ENDPOINT]}}
PARENT = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "nginx-gateway", "name": "tradesense",
          "sectionName": "https-review"}
ROUTE = {"spec": {"hostnames": [f"pr-7.{DOMAIN}", f"www-pr-7.{DOMAIN}"], "parentRefs": [PARENT],
                  "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": "frontend", "port": 3000}],
                             "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [{"name": "X-Frame-Options", "value": "SAMEORIGIN"}]}}]}]}}
RULE = {"spec": {"groups": [{"name": "g", "rules": [
    {"alert": "Down", "expr": "up == 0", "labels": {"severity": "critical", "namespace": NS}},
    {"record": "x:rate5m", "expr": "sum(rate(x[5m]))", "labels": {"namespace": NS}}]}]}}


def changed(base: dict, path: str, value) -> dict:
    """A deep copy of `base` with the dotted `path` (list indexes as numbers) set to `value`."""
    out = copy.deepcopy(base)
    node = out
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


# What the API server writes into the review Cluster and routes before admission (the CRD defaults).
CLUSTER_AS_DEFAULTED = {"spec": {**CLUSTER["spec"], "enablePDB": True, "failoverDelay": 0, "logLevel": "info", "maxSyncReplicas": 0,
                                 "minSyncReplicas": 0, "postgresGID": 26, "postgresUID": 26, "primaryUpdateMethod": "restart",
                                 "smartShutdownTimeout": 180, "startDelay": 3600, "stopDelay": 1800, "switchoverDelay": 3600,
                                 "replicationSlots": {"highAvailability": {"enabled": True, "slotPrefix": "_cnpg_"}, "updateInterval": 30}}}
ROUTE_AS_DEFAULTED = changed(ROUTE, "spec.rules.0.backendRefs.0", {"group": "", "kind": "Service", "name": "frontend", "port": 3000, "weight": 1})

LB = [{"selectorType": "rw", "serviceTemplate": {"metadata": {"name": "pg-public"}, "spec": {"type": "LoadBalancer"}}}]

ADMITTED = [
    ("postgresql.cnpg.io/clusters", CLUSTER),
    ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.instances", 2)),
    ("monitoring.coreos.com/servicemonitors", MONITOR),
    ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0.action", "Replace")),
    ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings", [
        {"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "backend_pod"}])),
    ("gateway.networking.k8s.io/httproutes", ROUTE),
    ("postgresql.cnpg.io/clusters", CLUSTER_AS_DEFAULTED),
    ("gateway.networking.k8s.io/httproutes", ROUTE_AS_DEFAULTED),
    ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", [f"api-pr-7.{DOMAIN}"])),
    ("monitoring.coreos.com/prometheusrules", RULE),
    ("apps/deployments", {"spec": {"replicas": 3}}),
    ("autoscaling/horizontalpodautoscalers", {"spec": {"maxReplicas": 3}}),
    ("secrets", {"type": "Opaque"}),
    ("postgresql.cnpg.io/scheduledbackups", {"spec": {"cluster": {"name": "postgres"}}}),
]

REFUSED = {
    # High: a public LoadBalancer through the Postgres operator.
    "cnpg managed additional LoadBalancer": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.managed", {"services": {"additional": LB}})),
    "cnpg managed roles only": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.managed", {"roles": [{"name": "x"}]})),
    "cnpg copies another database": ("postgresql.cnpg.io/clusters", changed(changed(CLUSTER, "spec.bootstrap", {"pg_basebackup": {"source": "staging"}}),
                                                                           "spec.externalClusters", [{"name": "staging", "connectionParameters": {"host": "postgres-rw.tradesense"}}])),
    "cnpg recovers another backup": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.bootstrap", {"recovery": {"source": "prod"}})),
    "cnpg service account template": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.serviceAccountTemplate", {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/prod"}}})),
    "cnpg priority class (preempts staging)": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.priorityClassName", "system-cluster-critical")),
    "cnpg pod monitor": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.monitoring", {"enablePodMonitor": True})),
    # A defaulted field is admitted only at its default.
    "cnpg runs postgres as root": ("postgresql.cnpg.io/clusters", changed(CLUSTER_AS_DEFAULTED, "spec.postgresUID", 0)),
    "cnpg root group": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.postgresGID", 0)),
    "cnpg without its PDB": ("postgresql.cnpg.io/clusters", changed(CLUSTER_AS_DEFAULTED, "spec.enablePDB", False)),
    "cnpg debug logging": ("postgresql.cnpg.io/clusters", changed(CLUSTER_AS_DEFAULTED, "spec.logLevel", "trace")),
    "backend of another kind": ("gateway.networking.k8s.io/httproutes", changed(ROUTE_AS_DEFAULTED, "spec.rules.0.backendRefs.0.kind", "ServiceImport")),
    "backend of another group": ("gateway.networking.k8s.io/httproutes", changed(ROUTE_AS_DEFAULTED, "spec.rules.0.backendRefs.0.group", "multicluster.x-k8s.io")),
    "cnpg too many instances": ("postgresql.cnpg.io/clusters", changed(CLUSTER, "spec.instances", 9)),
    # Kinds outside the allowlist, even in the review namespace.
    "pooler (creates a Service of any type)": ("postgresql.cnpg.io/poolers", {"spec": {"serviceTemplate": {"spec": {"type": "LoadBalancer"}}}}),
    "podmonitor": ("monitoring.coreos.com/podmonitors", {"spec": {}}),
    "probe": ("monitoring.coreos.com/probes", {"spec": {}}),
    "scrapeconfig": ("monitoring.coreos.com/scrapeconfigs", {"spec": {}}),
    "prometheus": ("monitoring.coreos.com/prometheuses", {"spec": {}}),
    "alertmanagerconfig": ("monitoring.coreos.com/alertmanagerconfigs", {"spec": {}}),
    "role": ("rbac.authorization.k8s.io/roles", {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
    "pod": ("pods", {"spec": {}}),
    "persistentvolumeclaim": ("persistentvolumeclaims", {"spec": {}}),
    "ingress": ("networking.k8s.io/ingresses", {"spec": {}}),
    "grpcroute": ("gateway.networking.k8s.io/grpcroutes", {"spec": {}}),
    "referencegrant": ("gateway.networking.k8s.io/referencegrants", {"spec": {}}),
    "service-account token secret": ("secrets", {"type": "kubernetes.io/service-account-token"}),
    # Sizes.
    "deployment with 50 replicas": ("apps/deployments", {"spec": {"replicas": 50}}),
    "statefulset with 50 replicas": ("apps/statefulsets", {"spec": {"replicas": 50}}),
    "autoscaler to 100": ("autoscaling/horizontalpodautoscalers", {"spec": {"maxReplicas": 100}}),
    # Prometheus scraping any address, or writing series as another namespace.
    "relabel __address__": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0", {"targetLabel": "__address__", "replacement": "alertmanager-operated.monitoring:9093"})),
    "relabel namespace": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0", {"targetLabel": "namespace", "replacement": "tradesense"})),
    "relabel job": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0", {"targetLabel": "job", "replacement": "backend"})),
    "relabel labelmap": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0", {"action": "labelmap", "regex": "__meta_(.*)", "targetLabel": "x"})),
    "relabel labeldrop namespace": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0", {"action": "labeldrop", "regex": "namespace", "targetLabel": "x"})),
    "relabel __param_target": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.relabelings.0", {"targetLabel": "__param_target", "replacement": "10.0.0.1"})),
    "metricRelabelings": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.metricRelabelings", [{"targetLabel": "namespace", "replacement": "tradesense"}])),
    "honorLabels": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.honorLabels", True)),
    "honorTimestamps": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.honorTimestamps", True)),
    "proxyUrl": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.proxyUrl", "http://alertmanager-operated.monitoring:9093")),
    "proxyFromEnvironment": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.proxyFromEnvironment", True)),
    "followRedirects": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.followRedirects", True)),
    "bearerTokenFile": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.bearerTokenFile", "/var/run/secrets/kubernetes.io/serviceaccount/token")),
    "authorization": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.authorization", {"credentials": {"name": "s", "key": "k"}})),
    "tlsConfig caFile": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.tlsConfig", {"caFile": "/etc/prometheus/secrets/x"})),
    "oauth2 token url": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.endpoints.0.oauth2", {"tokenUrl": "http://10.0.0.1/"})),
    "jobLabel": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.jobLabel", "app")),
    "targetLabels": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.targetLabels", ["namespace"])),
    "scrapeClass": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.scrapeClass", "privileged")),
    "other namespaces by any": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.namespaceSelector", {"any": True})),
    "other namespaces by name": ("monitoring.coreos.com/servicemonitors", changed(MONITOR, "spec.namespaceSelector", {"matchNames": [NS, "tradesense"]})),
    # Alerts and recordings as another namespace (pages on-call through the prod route).
    "rule without namespace label": ("monitoring.coreos.com/prometheusrules", changed(RULE, "spec.groups.0.rules.0.labels", {"severity": "critical"})),
    "rule as staging": ("monitoring.coreos.com/prometheusrules", changed(RULE, "spec.groups.0.rules.1.labels", {"namespace": "tradesense"})),
    "rule group labels": ("monitoring.coreos.com/prometheusrules", changed(RULE, "spec.groups.0.labels", {"namespace": "tradesense"})),
    # Another PR's (or any) hostname.
    "another PR's hostname": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", [f"pr-8.{DOMAIN}"])),
    "a longer number": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", [f"pr-70.{DOMAIN}"])),
    "staging's own hostname": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", [f"api.{DOMAIN}"])),
    "wildcard hostname": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", [f"*.{DOMAIN}"])),
    "own label, other domain": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", ["pr-7.evil.example"])),
    "no hostnames (every name of the listener)": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.hostnames", [])),
    "staging's listener": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.parentRefs.0", {**PARENT, "sectionName": "https"})),
    "no section name": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.parentRefs.0", {k: v for k, v in PARENT.items() if k != "sectionName"})),
    "another gateway": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.parentRefs.0", {**PARENT, "name": "internal"})),
    "backend in staging": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.rules.0.backendRefs.0", {"name": "backend", "namespace": "tradesense", "port": 8000})),
    "mirror to staging": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.rules.0.filters.0", {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "backend", "namespace": "tradesense", "port": 8000}}})),
    "redirect elsewhere": ("gateway.networking.k8s.io/httproutes", changed(ROUTE, "spec.rules.0.filters.0", {"type": "RequestRedirect", "requestRedirect": {"hostname": "evil.example"}})),
}


@pytest.mark.parametrize("resource,fields", ADMITTED)
def test_the_review_apps_own_objects_are_admitted(admit, resource, fields):
    for operation in ("CREATE", "UPDATE"):
        assert admit(DEPLOYER, operation, resource, NS, "obj", **fields)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_each_finding_is_refused(admit, name):
    resource, fields = REFUSED[name]
    for operation in ("CREATE", "UPDATE"):
        assert not admit(DEPLOYER, operation, resource, NS, "obj", **fields), name
    # Not the policy's business for anyone else (staging's own stack, an operator).
    assert admit("system:serviceaccount:kube-system:some-controller", "CREATE", resource, NS, "obj", **fields)


@pytest.mark.parametrize("subresource", ["exec", "status", "token", "eviction", "proxy"])
def test_no_subresource_writes(admit, subresource):
    resource = {"token": "serviceaccounts"}.get(subresource, "pods" if subresource != "status" else "apps/deployments")
    assert not admit(DEPLOYER, "CREATE", resource, NS, "obj", subresource=subresource)
    assert admit(DEPLOYER, "CREATE", "configmaps", NS, "obj")
