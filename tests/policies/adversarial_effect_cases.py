"""Second adversarial round (issue 18): the same effect in another spelling, what operators and
ConfigGroups create, indirection, coverage by default, RBAC, and AWS documents read by meaning.
Each case names the one rule it targets; clean look-alikes must pass. Part of all_cases()."""

from __future__ import annotations

import json
from typing import Any

from tools.policy_eval import make_resource

from .adversarial_cases import NS_LABEL, Case, hardened_container, hardened_spec, k8s_obj, pod, with_container

V, C = True, False
SVC = "k8s-service-restrict-load-balancer-and-node-port"
GW_PROTO = "k8s-gateway-restrict-listener-protocols"
PEERS = "k8s-network-policy-disallow-allow-all-peers"
DENY = "k8s-namespace-require-default-deny-network-policy"
SELECTED = "k8s-pod-require-network-policy"
PSS = "k8s-namespace-require-pod-security-restricted"
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"
PSS_LABELS = {"pod-security.kubernetes.io/enforce": "restricted"}


def config_group(name: str, objs: Any = None, yaml: Any = None):
    inputs: dict = {}
    if objs is not None:
        inputs["objs"] = objs
    if yaml is not None:
        inputs["yaml"] = yaml
    return make_resource(CONFIG_GROUP, name, inputs)


def service_obj(name: str = "api", namespace: str = "tradesense", **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pod_obj(spec: dict, name: str = "worker", namespace: str = "tradesense") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": dict(NS_LABEL)}, "spec": spec}


def service_cases() -> list[Case]:
    svc = "kubernetes:core/v1:Service"
    edge = {SVC: {"edgeSelectors": {"nginx-gateway/*": {"gateway.networking.k8s.io/gateway-name": "tradesense"}}}}
    edge_selector = {"gateway.networking.k8s.io/gateway-name": "tradesense"}
    cnpg = "kubernetes:postgresql.cnpg.io/v1:Cluster"

    def cluster(service_type: str):
        return k8s_obj(cnpg, "postgres", {"spec": {"instances": 1, "managed": {"services": {"additional": [
            {"selectorType": "rw", "serviceTemplate": {"metadata": {"name": "postgres-public"}, "spec": {"type": service_type}}}]}}}})

    return [
        Case("service-patch-lb", SVC, [k8s_obj("kubernetes:core/v1:ServicePatch", "api", {"spec": {"type": "LoadBalancer"}})], V),
        Case("service-list-nodeport", SVC, [make_resource("kubernetes:core/v1:ServiceList", "svcs", {"items": [service_obj(type="NodePort")]})], V),
        Case("service-external-ips", SVC, [k8s_obj(svc, "api", {"spec": {"selector": NS_LABEL, "externalIPs": ["203.0.113.10"]}})], V),
        Case("service-external-name", SVC, [k8s_obj(svc, "api", {"spec": {"type": "ExternalName", "externalName": "db.example.net"}})], V),
        Case("edge-lb-selects-other-pods", SVC,
             [k8s_obj(svc, "edge", {"spec": {"type": "LoadBalancer", "selector": {"app.kubernetes.io/name": "backend"}}}, namespace="nginx-gateway")], V, edge),
        Case("edge-lb-without-selector", SVC, [k8s_obj(svc, "edge", {"spec": {"type": "LoadBalancer"}}, namespace="nginx-gateway")], V),
        Case("configgroup-objs-lb", SVC, [config_group("extra", objs=[service_obj(type="LoadBalancer")])], V),
        Case("configgroup-yaml-lb", SVC, [config_group("extra", yaml="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: tradesense}\n---\n"
                                                                      "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: tradesense}\nspec: {type: NodePort}\n")], V),
        Case("configgroup-nested-list-lb", SVC, [config_group("extra", objs=[{"apiVersion": "v1", "kind": "List", "items": [service_obj(type="LoadBalancer")]}])], V),
        Case("cnpg-managed-service-lb", SVC, [cluster("LoadBalancer")], V),
        Case("pooler-service-template-nodeport", SVC, [k8s_obj("kubernetes:postgresql.cnpg.io/v1:Pooler", "pooler", {"spec": {
            "cluster": {"name": "postgres"}, "instances": 1, "type": "rw", "serviceTemplate": {"spec": {"type": "NodePort"}}}})], V),
        Case("edge-lb-selects-edge-pods", SVC,
             [k8s_obj(svc, "edge", {"spec": {"type": "LoadBalancer", "selector": {**edge_selector, "extra": "x"}}}, namespace="nginx-gateway")], C, edge),
        Case("clusterip-with-selector", SVC, [k8s_obj(svc, "api", {"spec": {"selector": NS_LABEL, "ports": [{"port": 80}]}})], C),
        Case("service-patch-leaves-type", SVC, [k8s_obj("kubernetes:core/v1:ServicePatch", "api", {"metadata": {"name": "api", "namespace": "tradesense",
                                                                                                               "annotations": {"a": "b"}}})], C),
        Case("configgroup-clusterip", SVC, [config_group("extra", yaml="apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: tradesense}\n"
                                                                       "spec: {selector: {app: api}}\n")], C),
        Case("cnpg-managed-service-clusterip", SVC, [cluster("ClusterIP")], C),
    ]


def gateway_cases() -> list[Case]:
    gw = "kubernetes:gateway.networking.k8s.io/v1:Gateway"

    def gateway(*listeners: dict):
        return k8s_obj(gw, "edge", {"spec": {"gatewayClassName": "nginx", "listeners": list(listeners)}}, namespace="nginx-gateway")

    https = {"name": "https", "port": 443, "protocol": "HTTPS", "tls": {"mode": "Terminate", "certificateRefs": [{"name": "tls"}]}}
    return [
        Case("gateway-tcp-listener", GW_PROTO, [gateway(https, {"name": "pg", "port": 5432, "protocol": "TCP"})], V),
        Case("gateway-udp-listener", GW_PROTO, [gateway(https, {"name": "dns", "port": 53, "protocol": "UDP"})], V),
        Case("gateway-tls-passthrough", GW_PROTO, [gateway({"name": "tls", "port": 8443, "protocol": "TLS", "tls": {"mode": "Passthrough"}})], V),
        Case("gateway-v1beta1-in-configgroup", GW_PROTO, [config_group("gw", objs=[{"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "Gateway",
                                                                                     "metadata": {"name": "side", "namespace": "nginx-gateway"},
                                                                                     "spec": {"listeners": [{"name": "redis", "port": 6379, "protocol": "TCP"}]}}])], V),
        Case("gateway-http-and-https", GW_PROTO, [gateway({"name": "http", "port": 80, "protocol": "HTTP"}, https)], C),
    ]


def operator_pod_cases() -> list[Case]:
    prom = "kubernetes:monitoring.coreos.com/v1:Prometheus"
    am = "kubernetes:monitoring.coreos.com/v1:Alertmanager"
    pooler = "kubernetes:postgresql.cnpg.io/v1:Pooler"
    cnpg = "kubernetes:postgresql.cnpg.io/v1:Cluster"
    return [
        Case("configgroup-objs-privileged-pod", "k8s-pod-disallow-privileged", [config_group("extra", objs=[pod_obj(with_container(privileged=True))])], V),
        Case("configgroup-yaml-second-doc-host-network", "k8s-pod-disallow-host-namespaces",
             [config_group("extra", yaml=["apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
                                          "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: tradesense}\n"
                                          "spec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
                                          "    spec:\n      hostNetwork: true\n      containers: [{name: agent, image: 'r/agent:1.0'}]\n"])], V),
        Case("prometheus-cr-privileged-sidecar", "k8s-pod-disallow-privileged",
             [k8s_obj(prom, "k8s", {"spec": {"replicas": 1, "containers": [{"name": "sidecar", "image": "r/s:1", "securityContext": {"privileged": True}}]}},
                      namespace="monitoring")], V),
        Case("alertmanager-cr-hostpath", "k8s-pod-disallow-host-path-volumes",
             [k8s_obj(am, "main", {"spec": {"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}}, namespace="monitoring")], V),
        Case("prometheus-cr-root-init", "k8s-pod-disallow-run-as-root-user",
             [k8s_obj(prom, "k8s", {"spec": {"initContainers": [{"name": "init", "image": "r/i:1", "securityContext": {"runAsUser": 0}}]}}, namespace="monitoring")], V),
        Case("prometheus-cr-host-pid", "k8s-pod-disallow-host-namespaces", [k8s_obj(prom, "k8s", {"spec": {"hostPID": True}}, namespace="monitoring")], V),
        Case("pooler-template-privileged", "k8s-pod-disallow-privileged",
             [k8s_obj(pooler, "pooler", {"spec": {"cluster": {"name": "postgres"}, "template": {"spec": {"containers": [
                 {"name": "pgbouncer", "securityContext": {"privileged": True}}]}}}})], V),
        Case("cnpg-cluster-literal-password-env", "k8s-pod-disallow-literal-secret-env",
             [k8s_obj(cnpg, "postgres", {"spec": {"instances": 1, "env": [{"name": "PGPASSWORD", "value": "hunter2hunter2"}]}})], V),
        Case("cnpg-cluster-escalation", "k8s-pod-disallow-privilege-escalation",
             [k8s_obj(cnpg, "postgres", {"spec": {"instances": 1, "securityContext": {"allowPrivilegeEscalation": True}}})], V),
        Case("prometheus-cr-partial-sidecar", "k8s-pod-disallow-privilege-escalation",
             [k8s_obj(prom, "k8s", {"spec": {"containers": [{"name": "prometheus", "resources": {"limits": {"memory": "2Gi"}}}]}}, namespace="monitoring")], C),
        Case("cnpg-cluster-pinned", "k8s-pod-require-pinned-image",
             [k8s_obj(cnpg, "postgres", {"spec": {"instances": 3, "imageName": "ghcr.io/cloudnative-pg/postgresql:15.18-minimal-trixie"}})], C),
        Case("configgroup-hardened-pod", "k8s-pod-disallow-privileged", [config_group("extra", objs=[pod_obj(hardened_spec())])], C),
    ]


def indirection_cases() -> list[Case]:
    pv = "kubernetes:core/v1:PersistentVolume"
    pv_rule = "k8s-persistent-volume-disallow-host-path"
    token_rule = "k8s-pod-disable-service-account-token-automount"
    cm_rule = "k8s-configmap-disallow-secret-values"
    env_rule = "k8s-pod-disallow-literal-secret-env"
    cm = "kubernetes:core/v1:ConfigMap"

    def projected(audience: Any = None) -> dict:
        token: dict = {"path": "token", "expirationSeconds": 3600}
        if audience is not None:
            token["audience"] = audience
        return hardened_spec(volumes=[{"name": "api", "projected": {"sources": [{"serviceAccountToken": token}]}}])

    def args(*values: str, field_name: str = "args") -> dict:
        return hardened_spec(containers=[{**hardened_container(), field_name: list(values)}])

    return [
        Case("pv-host-path", pv_rule, [k8s_obj(pv, "data", {"spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/"}}}, namespace=None)], V),
        Case("pv-local", pv_rule, [k8s_obj(pv, "data", {"spec": {"local": {"path": "/mnt/disk"}, "nodeAffinity": {}}}, namespace=None)], V),
        Case("pv-host-path-in-configgroup", pv_rule, [config_group("pv", objs=[{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "d"},
                                                                               "spec": {"hostPath": {"path": "/etc"}}}])], V),
        Case("pv-csi", pv_rule, [k8s_obj(pv, "data", {"spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}}, namespace=None)], C),
        Case("projected-token-default-audience", token_rule, [pod(spec=projected())], V),
        Case("projected-token-api-audience", token_rule, [pod(spec=projected("https://kubernetes.default.svc"))], V),
        Case("projected-token-sts-audience", token_rule, [pod(spec=projected("sts.amazonaws.com"))], C),
        Case("configmap-stripe-key", cm_rule, [k8s_obj(cm, "cfg", {"data": {"payments": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"}})], V),
        Case("configmap-secret-named-key", cm_rule, [k8s_obj(cm, "cfg", {"data": {"DB_PASSWORD": "correct-horse-battery"}})], V),
        Case("configmap-url-with-password", cm_rule, [k8s_obj(cm, "cfg", {"data": {"BROKER": "amqp://app:s3cret@rabbit:5672/"}})], V),
        Case("configmap-in-configgroup-yaml", cm_rule,
             [config_group("cfg", yaml="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: env, namespace: tradesense}\ndata: {API_TOKEN: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB}\n")], V),
        Case("configmap-patch-adds-password", cm_rule, [k8s_obj("kubernetes:core/v1:ConfigMapPatch", "cfg", {"data": {"REDIS_PASSWORD": "hunter2hunter2"}})], V),
        Case("configmap-harmless-secret-words", cm_rule,
             [k8s_obj(cm, "cfg", {"data": {"PASSWORD_MIN_LENGTH": "12", "TOKEN_TTL": "15m", "DATABASE_URL": "postgresql://postgres-rw:5432/app"}})], C),
        Case("configmap-config-file", cm_rule, [k8s_obj(cm, "cfg", {"data": {"nginx.conf": "server { listen 8080; }\n# password auth is off\n"}})], C),
        Case("args-password-flag", env_rule, [pod(spec=args("--password=hunter2hunter2"))], V),
        Case("command-url-credentials", env_rule, [pod(spec=args("sh", "-c", "psql postgresql://app:hunter2@postgres-rw/app", field_name="command"))], V),
        Case("args-separate-secret-flag", env_rule, [pod(spec=args("--db-password", "hunter2hunter2"))], V),
        Case("args-env-reference", env_rule, [pod(spec=args("--password=$(DB_PASSWORD)", "--token-ttl=3600"))], C),
        Case("args-password-file", env_rule, [pod(spec=args("--password-file", "/secrets/db/password"))], C),
        # Seen in the platform's charts: flags naming a Secret object, not holding its content.
        Case("args-secret-object-names", env_rule, [pod(spec=args("--secret-name=webhook-tls", "--agent-tls-secret", "agent-tls",
                                                                  "--dynamic-serving-ca-secret-name=ca", "--secret-field-selector=type!=kubernetes.io/dockercfg"))], C),
        Case("args-api-token-flag", env_rule, [pod(spec=args("--api-token", "c0ffee-1234-abcd"))], V),
    ]


def network_cases() -> list[Case]:
    def policy(name: str, spec: dict, namespace: str = "tradesense"):
        return k8s_obj(NP, name, {"spec": spec}, namespace=namespace)

    selector = {"matchLabels": NS_LABEL}
    ns = k8s_obj(NAMESPACE, "tradesense", {}, namespace=None)
    deny = policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    allow = policy("allow-worker", {"podSelector": selector, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]})
    release = make_resource("kubernetes:helm.sh/v3:Release", "cache", {"chart": "redis", "version": "20.1.0", "namespace": "cache",
                                                                      "repositoryOpts": {"repo": "https://charts.example.com"}})
    return [
        Case("ingress-from-empty-peer", PEERS, [policy("open", {"podSelector": selector, "ingress": [{"from": [{}]}]})], V),
        Case("ingress-from-every-namespace", PEERS, [policy("open", {"podSelector": selector, "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 9000}]}]})], V),
        Case("ingress-rule-without-from", PEERS, [policy("open", {"podSelector": selector, "ingress": [{"ports": [{"port": 9000}]}]})], V),
        Case("egress-world-every-port", PEERS, [policy("open", {"podSelector": selector, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})], V),
        Case("ingress-world-split-halves", PEERS, [policy("open", {"podSelector": selector, "ingress": [{"from": [
            {"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}], "ports": [{"port": 9000}]}]})], V),
        Case("egress-every-namespace-every-port", PEERS, [policy("open", {"podSelector": selector, "policyTypes": ["Egress"],
                                                                         "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {}}]}]})], V),
        Case("egress-internet-https-only", PEERS, [policy("https", {"podSelector": selector, "policyTypes": ["Egress"], "egress": [
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443, "protocol": "TCP"}]}]})], C),
        Case("ingress-same-namespace", PEERS, [policy("local", {"podSelector": selector, "ingress": [{"from": [{"podSelector": {}}]}]})], C),
        Case("ingress-from-named-namespace", PEERS, [policy("gw", {"podSelector": selector, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nginx-gateway"}}}]}]})], C),
        # coverage by default
        Case("new-namespace-without-deny", DENY, [pod(namespace="payments")], V),
        Case("review-namespace-policies-removed", DENY, [k8s_obj(NAMESPACE, "tradesense-pr-9", {}, namespace=None), pod(namespace="tradesense-pr-9")], V),
        Case("helm-release-namespace-without-deny", DENY, [release], V),
        Case("configgroup-pods-without-deny", DENY, [config_group("extra", objs=[pod_obj(hardened_spec(), namespace="batch")])], V),
        Case("exempt-namespace-by-name", DENY, [release, pod(namespace="cache")], C, {DENY: {"exemptNamespaces": ["cache"]}}),
        Case("new-namespace-pods-unselected", SELECTED, [pod(namespace="payments"), policy("default-deny", deny.inputs["spec"], "payments")], V),
        Case("cnpg-cluster-pods-unselected", SELECTED, [ns, deny, allow, k8s_obj("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres", {"spec": {"instances": 1}})], V),
        Case("cnpg-cluster-pods-selected", SELECTED, [ns, deny, allow, policy("allow-pg", {"podSelector": {"matchLabels": {"cnpg.io/cluster": "postgres"}}, "ingress": [{}]}),
                                                      k8s_obj("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres", {"spec": {"instances": 1}})], C),
    ]


def pod_security_cases() -> list[Case]:
    def namespace(name: str = "tradesense", labels: Any = None, type_: str = NAMESPACE):
        body = {"metadata": {"name": name, **({"labels": labels} if labels is not None else {})}}
        return make_resource(type_, name, body)

    return [
        Case("namespace-without-label", PSS, [namespace()], V),
        Case("namespace-baseline-not-opted-out", PSS, [namespace(labels={"pod-security.kubernetes.io/enforce": "baseline"})], V),
        Case("namespace-privileged-beyond-opt-out", PSS, [namespace("edge", {"pod-security.kubernetes.io/enforce": "privileged"})], V,
             {PSS: {"exemptNamespaces": {"edge": "baseline"}}}),
        Case("namespace-patch-sets-privileged", PSS, [namespace(labels=PSS_LABELS),
                                                      namespace(labels={"pod-security.kubernetes.io/enforce": "privileged"}, type_="kubernetes:core/v1:NamespacePatch")], V),
        Case("pods-in-namespace-not-created", PSS, [namespace(labels=PSS_LABELS), pod(namespace="kube-system")], V),
        Case("namespace-warn-only", PSS, [namespace(labels={"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"})], V),
        Case("namespace-restricted", PSS, [namespace(labels=PSS_LABELS), pod()], C),
        Case("namespace-opted-out-at-baseline", PSS, [namespace("edge", {"pod-security.kubernetes.io/enforce": "baseline"})], C,
             {PSS: {"exemptNamespaces": {"edge": "baseline"}}}),
        Case("external-namespace-named", PSS, [namespace(labels=PSS_LABELS), pod(namespace="kube-system")], C,
             {PSS: {"externalNamespaces": ["kube-system"]}}),
    ]


RBAC = "rbac.authorization.k8s.io/v1"
CRB = f"kubernetes:{RBAC}:ClusterRoleBinding"
RB = f"kubernetes:{RBAC}:RoleBinding"
CR = f"kubernetes:{RBAC}:ClusterRole"
ROLE = f"kubernetes:{RBAC}:Role"


def binding(type_: str, role: str, *subjects: dict, name: str = "b", namespace: Any = None):
    body = {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": list(subjects)}
    return k8s_obj(type_, name, body, namespace=namespace)


def role(type_: str, *rules: dict, name: str = "r", namespace: Any = None):
    return k8s_obj(type_, name, {"rules": list(rules)}, namespace=namespace)


def rbac_cases() -> list[Case]:
    public = "k8s-rbac-disallow-public-subject-binding"
    admin = "k8s-rbac-disallow-cluster-admin-binding"
    wildcard = "k8s-rbac-disallow-wildcard-rules"
    escalation = "k8s-rbac-disallow-escalation-verbs"
    secrets = "k8s-rbac-disallow-cluster-wide-secret-read"
    sa = {"kind": "ServiceAccount", "name": "ci", "namespace": "tradesense"}
    group = lambda name: {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": name}  # noqa: E731
    reader = role(CR, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}, name="secret-reader")
    return [
        Case("crb-system-authenticated", public, [binding(CRB, "view", group("system:authenticated"))], V),
        Case("rb-system-unauthenticated", public, [binding(RB, "edit", group("system:unauthenticated"), namespace="tradesense")], V),
        Case("crb-anonymous-user", public, [binding(CRB, "view", {"kind": "User", "name": "system:anonymous"})], V),
        Case("rbac-in-configgroup-yaml", public, [config_group("rbac", yaml=f"apiVersion: {RBAC}\nkind: ClusterRoleBinding\nmetadata: {{name: open}}\n"
                                                                             "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n"
                                                                             "subjects: [{kind: Group, name: 'system:serviceaccounts'}]\n")], V),
        Case("crb-named-service-account", public, [binding(CRB, "view", sa)], C),
        Case("crb-cluster-admin-to-sa", admin, [binding(CRB, "cluster-admin", sa)], V),
        Case("rb-cluster-admin-namespaced", admin, [binding(RB, "cluster-admin", sa, namespace="tradesense")], V),
        Case("crb-list-cluster-admin", admin, [make_resource(f"kubernetes:{RBAC}:ClusterRoleBindingList", "l", {"items": [
            {"metadata": {"name": "x"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [sa]}]})], V),
        Case("cluster-admin-allow-listed", admin, [binding(CRB, "cluster-admin", sa)], C, {admin: {"allowedSubjects": ["ServiceAccount:tradesense/ci"]}}),
        Case("role-wildcard-verbs", wildcard, [role(ROLE, {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}, namespace="tradesense")], V),
        Case("clusterrole-wildcard-resources", wildcard, [role(CR, {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]})], V),
        Case("wildcard-operator-role-allow-listed", wildcard, [role(CR, {"apiGroups": ["monitoring.coreos.com"], "resources": ["prometheuses"], "verbs": ["*"]},
                                                                    name="prometheus-operator")], C, {wildcard: {"allowedRoles": ["ClusterRole:prometheus-operator"]}}),
        Case("clusterrole-explicit-verbs", wildcard, [role(CR, {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]})], C),
        Case("role-escalate", escalation, [role(ROLE, {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}, namespace="tradesense")], V),
        Case("clusterrole-impersonate", escalation, [role(CR, {"apiGroups": [""], "resources": ["users", "groups"], "verbs": ["impersonate"]})], V),
        Case("bind-any-role", escalation, [role(CR, {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]})], V),
        Case("bind-named-role", escalation, [role(CR, {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                                                       "resourceNames": ["tradesense-review-app"]})], C),
        Case("crb-secret-reader", secrets, [reader, binding(CRB, "secret-reader", sa)], V),
        Case("crb-builtin-edit", secrets, [binding(CRB, "edit", sa)], V),
        Case("rb-secret-reader-namespaced", secrets, [reader, binding(RB, "secret-reader", sa, namespace="tradesense")], C),
        Case("crb-view", secrets, [binding(CRB, "view", sa)], C),
        Case("operator-binding-allow-listed", secrets, [reader, binding(CRB, "secret-reader", sa, name="cnpg")], C,
             {secrets: {"allowedBindings": ["ClusterRoleBinding:cnpg"]}}),
        Case("secret-reader-aggregated-into-view", secrets, [k8s_obj(CR, "peek", {"metadata": {"name": "peek", "labels": {
            "rbac.authorization.k8s.io/aggregate-to-view": "true"}}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}]}, namespace=None)], V),
        Case("pod-reader-aggregated-into-view", secrets, [k8s_obj(CR, "pods", {"metadata": {"name": "pods", "labels": {
            "rbac.authorization.k8s.io/aggregate-to-view": "true"}}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}, namespace=None)], C),
    ]


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def iam_cases() -> list[Case]:
    wildcard = "aws-iam-policy-disallow-wildcard-action-on-wildcard-resource"
    escalation = "aws-iam-policy-disallow-privilege-escalation-actions"
    policy = "aws:iam/policy:Policy"

    def p(*statements: dict):
        return make_resource(policy, "p", {"policy": doc(*statements)})

    return [
        Case("action-star-on-arn-aws-star", wildcard, [p(allow("*", "arn:aws:*"))], V),
        Case("iam-star-on-every-iam-arn", wildcard, [p(allow("iam:*", "arn:aws:iam::*:*"))], V),
        Case("action-star-on-star-segments", wildcard, [p(allow("*", "arn:*:*:*:*:*"))], V),
        Case("question-mark-service", wildcard, [p(allow("i?m:*", ["arn:aws:s3:::x", "arn:aws:*:*:*:*"]))], V),
        Case("star-on-one-bucket", wildcard, [p(allow("*", ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"]))], C),
        Case("passrole-on-star", escalation, [p(allow("iam:PassRole"))], V),
        Case("create-policy-version-every-policy", escalation, [p(allow("iam:CreatePolicyVersion", "arn:aws:iam::*:policy/*"))], V),
        Case("attach-role-policy-lowercase", escalation, [p(allow("iam:attachrolepolicy", "arn:aws:iam::123456789012:role/*"))], V),
        Case("assume-any-role", escalation, [make_resource("aws:iam/rolePolicy:RolePolicy", "p", {"role": "app", "policy": doc(allow("sts:AssumeRole"))})], V),
        Case("create-access-key-inline", escalation, [make_resource("aws:iam/role:Role", "r", {"assumeRolePolicy": doc(), "inlinePolicies": [
            {"name": "keys", "policy": doc(allow("iam:CreateAccessKey", "arn:aws:iam::*:user/*"))}]})], V),
        Case("put-policy-wildcard-action", escalation, [p(allow("iam:Put*Policy"))], V),
        Case("escalation-under-always-true-condition", escalation, [p(allow("iam:PassRole", "*", Condition={"StringLike": {"iam:PassedToService": "*"}}))], V),
        Case("escalation-via-not-action", escalation, [p({"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:iam::*:role/*"})], V),
        Case("passrole-one-role", escalation, [p(allow("iam:PassRole", "arn:aws:iam::123456789012:role/app-task"))], C),
        Case("passrole-scoped-by-condition", escalation, [p(allow("iam:PassRole", "*", Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))], C),
        Case("iam-read-only", escalation, [p(allow(["iam:Get*", "iam:List*"]))], C),
    ]


def trust_cases() -> list[Case]:
    rule = "aws-iam-role-restrict-trust-policy"
    oidc = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    host = "oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    github = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    gh = "token.actions.githubusercontent.com"

    def role_with(*statements: dict):
        return make_resource("aws:iam/role:Role", "r", {"assumeRolePolicy": doc(*statements)})

    def trust(principal: Any, action: str = "sts:AssumeRole", **extra: Any) -> dict:
        return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}

    web = "sts:AssumeRoleWithWebIdentity"
    return [
        Case("trust-everyone", rule, [role_with(trust("*"))], V),
        Case("trust-aws-star-list", rule, [role_with(trust({"AWS": ["*"]}))], V),
        Case("trust-everyone-always-true-condition", rule, [role_with(trust({"AWS": "*"}, Condition={"StringLike": {"aws:PrincipalArn": "*"}}))], V),
        Case("trust-oidc-no-condition", rule, [role_with(trust({"Federated": oidc}, web))], V),
        Case("trust-oidc-aud-only", rule, [role_with(trust({"Federated": oidc}, web, Condition={"StringEquals": {f"{host}:aud": "sts.amazonaws.com"}}))], V),
        Case("trust-github-repo-wildcard", rule, [role_with(trust({"Federated": github}, web, Condition={
            "StringEquals": {f"{gh}:aud": "sts.amazonaws.com"}, "StringLike": {f"{gh}:sub": "repo:tradesense/*"}}))], V),
        Case("trust-oidc-sub-if-exists", rule, [role_with(trust({"Federated": oidc}, web, Condition={
            "StringEqualsIfExists": {f"{host}:sub": "system:serviceaccount:tradesense:backend"}, "StringEquals": {f"{host}:aud": "sts.amazonaws.com"}}))], V),
        Case("trust-irsa-pinned", rule, [role_with(trust({"Federated": oidc}, web, Condition={"StringEquals": {
            f"{host}:sub": "system:serviceaccount:tradesense:backend", f"{host}:aud": "sts.amazonaws.com"}}))], C),
        Case("trust-service-principal", rule, [role_with(trust({"Service": "eks.amazonaws.com"}))], C),
        Case("trust-everyone-in-org", rule, [role_with(trust({"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))], C),
        Case("trust-github-exact-sub-stringlike", rule, [role_with(trust({"Federated": github}, web, Condition={
            "StringEquals": {f"{gh}:aud": "sts.amazonaws.com"}, "StringLike": {f"{gh}:sub": "repo:tradesense/infra:ref:refs/heads/main"}}))], C),
    ]


def key_and_bucket_cases() -> list[Case]:
    kms = "aws-kms-key-restrict-key-policy"
    s3 = "aws-s3-bucket-disallow-public-policy"
    key = "aws:kms/key:Key"
    root = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}

    def bucket_policy(*statements: dict):
        return make_resource("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "ts-uploads", "policy": doc(*statements)})

    def public(**extra: Any) -> dict:
        return {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ts-uploads/*", **extra}

    return [
        Case("kms-everyone-decrypt", kms, [make_resource(key, "k", {"enableKeyRotation": True, "policy": doc(root, {
            "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})})], V),
        Case("kms-key-policy-resource-star", kms, [make_resource("aws:kms/keyPolicy:KeyPolicy", "kp", {"keyId": "k", "policy": doc(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"})})], V),
        Case("kms-everyone-bool-both-values", kms, [make_resource(key, "k", {"policy": doc({"Effect": "Allow", "Principal": "*", "Action": "kms:CreateGrant",
                                                                                           "Resource": "*", "Condition": {"Bool": {"kms:GrantIsForAWSResource": ["true", "false"]}}})})], V),
        Case("kms-account-root", kms, [make_resource(key, "k", {"policy": doc(root)})], C),
        Case("kms-everyone-via-service-in-account", kms, [make_resource(key, "k", {"policy": doc({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                                                                 "Action": ["kms:Decrypt"], "Resource": "*", "Condition": {
            "StringEquals": {"kms:CallerAccount": "123456789012", "kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})})], C),
        Case("bucket-public-get", s3, [bucket_policy(public())], V),
        Case("bucket-source-arn-star", s3, [bucket_policy(public(Condition={"StringLike": {"aws:SourceArn": "*"}}))], V),
        Case("bucket-secure-transport-both", s3, [bucket_policy(public(Condition={"Bool": {"aws:SecureTransport": ["true", "false"]}}))], V),
        Case("bucket-source-vpce-if-exists", s3, [bucket_policy(public(Condition={"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}))], V),
        Case("bucket-inline-policy-public", s3, [make_resource("aws:s3/bucketV2:BucketV2", "b", {"bucket": "ts-uploads", "policy": doc(public(Action="s3:*"))})], V),
        Case("bucket-not-principal-allow", s3, [bucket_policy({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject",
                                                               "Resource": "arn:aws:s3:::ts-uploads/*"})], V),
        Case("bucket-string-not-equals", s3, [bucket_policy(public(Condition={"StringNotEquals": {"aws:PrincipalAccount": "000000000000"}}))], V),
        Case("bucket-tls-deny-only", s3, [bucket_policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [
            "arn:aws:s3:::ts-uploads", "arn:aws:s3:::ts-uploads/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}})], C),
        Case("bucket-org-only", s3, [bucket_policy(public(Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))], C),
        Case("bucket-vpc-endpoint-only", s3, [bucket_policy(public(Condition={"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c"}}))], C),
    ]


def security_group_cases() -> list[Case]:
    rule = "aws-ec2-security-group-restrict-world-ingress"
    sg = "aws:ec2/securityGroup:SecurityGroup"

    def group(*ingress: dict, type_: str = sg):
        return make_resource(type_, "sg", {"vpcId": "vpc-1", "ingress": list(ingress)})

    def entry(protocol: Any, low: int, high: int, v4: Any = None, v6: Any = None) -> dict:
        found: dict = {"protocol": protocol, "fromPort": low, "toPort": high}
        if v4:
            found["cidrBlocks"] = v4
        if v6:
            found["ipv6CidrBlocks"] = v6
        return found

    vpc_rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    return [
        Case("sg-ssh-world", rule, [group(entry("tcp", 22, 22, ["0.0.0.0/0"]))], V),
        Case("sg-all-protocols-ipv6", rule, [group(entry("-1", 0, 0, v6=["::/0"]))], V),
        Case("sg-rule-resource-all", rule, [make_resource("aws:ec2/securityGroupRule:SecurityGroupRule", "r", {
            "type": "ingress", "protocol": "all", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/0"], "securityGroupId": "sg-1"})], V),
        Case("sg-vpc-rule-rdp-half-internet", rule, [make_resource(vpc_rule, "r", {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 3389,
                                                                                   "toPort": 3389, "cidrIpv4": "128.0.0.0/1"})], V),
        Case("sg-range-around-https", rule, [group(entry("tcp", 0, 65535, ["0.0.0.0/0"]))], V),
        Case("sg-default-group-postgres", rule, [group(entry("6", 5432, 5432, ["10.0.0.0/8", "0.0.0.0/0"]), type_="aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")], V),
        Case("sg-vpc-rule-ipv6-all", rule, [make_resource(vpc_rule, "r", {"securityGroupId": "sg-1", "ipProtocol": "-1", "cidrIpv6": "::/0"})], V),
        Case("sg-https-world", rule, [group(entry("tcp", 443, 443, ["0.0.0.0/0"], ["::/0"]), entry("tcp", 80, 80, ["0.0.0.0/0"]))], C),
        Case("sg-ssh-from-office", rule, [group(entry("tcp", 22, 22, ["198.51.100.0/24"]))], C),
        Case("sg-egress-rule-world", rule, [make_resource("aws:ec2/securityGroupRule:SecurityGroupRule", "r", {
            "type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"], "securityGroupId": "sg-1"})], C),
        Case("sg-icmp-world", rule, [group(entry("icmp", 8, 0, ["0.0.0.0/0"]))], C),
    ]


def effect_cases() -> list[Case]:
    return [*service_cases(), *gateway_cases(), *operator_pod_cases(), *indirection_cases(), *network_cases(),
            *pod_security_cases(), *rbac_cases(), *iam_cases(), *trust_cases(), *key_and_bucket_cases(), *security_group_cases()]
