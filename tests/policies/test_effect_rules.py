"""The rules of issue 18, one passing and one failing case each, with what the message says
(the adversarial table, adversarial_effect_cases.py, holds the evasions and look-alikes)."""

from __future__ import annotations

import json

import pytest

from .fixtures import k8s, make_resource, messages, pod_spec, run, workload

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
SA = {"kind": "ServiceAccount", "name": "ci", "namespace": "tradesense"}


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def binding(role="view", subject=SA, kind="ClusterRoleBinding"):
    return k8s(f"{RBAC}:{kind}", "b", {"roleRef": {"kind": "ClusterRole", "name": role}, "subjects": [subject]},
               namespace="tradesense" if kind == "RoleBinding" else None)


def role(*rules, kind="ClusterRole", name="r"):
    return k8s(f"{RBAC}:{kind}", name, {"rules": list(rules)}, namespace=None)


NAMESPACE = "kubernetes:core/v1:Namespace"


def namespace(labels):
    return k8s(NAMESPACE, "tradesense", {"metadata": {"name": "tradesense", "labels": labels}}, namespace=None)


CASES = [
    # rule, clean resources, violating resources, a phrase of the violation message
    ("k8s-gateway-restrict-listener-protocols",
     [k8s("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gw", {"spec": {"listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}]}})],
     [k8s("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gw", {"spec": {"listeners": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}})],
     "uses protocol TCP on port 5432"),
    ("k8s-network-policy-disallow-allow-all-peers",
     [k8s("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np", {"spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}})],
     [k8s("kubernetes:networking.k8s.io/v1:NetworkPolicy", "np", {"spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}})],
     "allows every pod in every namespace"),
    ("k8s-rbac-disallow-public-subject-binding", [binding()], [binding(subject={"kind": "Group", "name": "system:authenticated"})],
     "to Group system:authenticated"),
    ("k8s-rbac-disallow-cluster-admin-binding", [binding("admin", kind="RoleBinding")], [binding("cluster-admin")], "grants cluster-admin to ServiceAccount:tradesense/ci"),
    ("k8s-rbac-disallow-wildcard-rules", [role({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]})],
     [role({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]})], "grants apiGroups '*'"),
    ("k8s-rbac-disallow-escalation-verbs", [role({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]})],
     [role({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]})], "['impersonate']"),
    ("k8s-rbac-disallow-cluster-wide-secret-read",
     [role({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, name="reader"), binding("reader", kind="RoleBinding")],
     [role({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, name="reader"), binding("reader")], "which reads Secrets, cluster-wide"),
    ("k8s-namespace-require-pod-security-restricted", [namespace({"pod-security.kubernetes.io/enforce": "restricted"}), workload()],
     [namespace({"pod-security.kubernetes.io/enforce": "baseline"}), workload()], "has enforce=baseline"),
    ("k8s-configmap-disallow-secret-values", [k8s("kubernetes:core/v1:ConfigMap", "c", {"data": {"LOG_LEVEL": "info"}})],
     [k8s("kubernetes:core/v1:ConfigMap", "c", {"data": {"SMTP_PASSWORD": "hunter2hunter2"}})], "key 'SMTP_PASSWORD' holds a secret-named literal"),
    ("k8s-persistent-volume-disallow-host-path", [k8s("kubernetes:core/v1:PersistentVolume", "pv", {"spec": {"csi": {"driver": "x", "volumeHandle": "v"}}}, namespace=None)],
     [k8s("kubernetes:core/v1:PersistentVolume", "pv", {"spec": {"hostPath": {"path": "/var"}}}, namespace=None)], "is a hostPath volume (/var)"),
    ("aws-iam-policy-disallow-privilege-escalation-actions",
     [make_resource("aws:iam/policy:Policy", "p", {"policy": doc({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/task"})})],
     [make_resource("aws:iam/policy:Policy", "p", {"policy": doc({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})})], "['iam:passrole']"),
    ("aws-iam-role-restrict-trust-policy",
     [make_resource("aws:iam/role:Role", "r", {"assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})})],
     [make_resource("aws:iam/role:Role", "r", {"assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})})],
     "lets every AWS principal assume the role"),
    ("aws-kms-key-restrict-key-policy", [make_resource("aws:kms/key:Key", "k", {"enableKeyRotation": True})],
     [make_resource("aws:kms/key:Key", "k", {"policy": doc({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"})})], "allows ['kms:*'] to every principal"),
    ("aws-s3-bucket-disallow-public-policy",
     [make_resource("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})})],
     [make_resource("aws:s3/bucketPolicy:BucketPolicy", "bp", {"bucket": "b", "policy": doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})})],
     "to every principal"),
    ("aws-ec2-security-group-restrict-world-ingress",
     [make_resource("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]})],
     [make_resource("aws:ec2/securityGroup:SecurityGroup", "sg", {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "ipv6CidrBlocks": ["::/0"]}]})],
     "opens tcp port 22 to the internet (['::/0'])"),
]


@pytest.mark.parametrize("rule,clean,violating,phrase", CASES, ids=[c[0] for c in CASES])
def test_rule_passes_the_clean_case_and_reports_the_violation(rule, clean, violating, phrase):
    assert run(rule, clean) == []
    found = run(rule, violating)
    assert found and all(v.enforcement == "mandatory" for v in found)
    assert phrase in messages(found), messages(found)


def test_service_rule_reports_external_ips_and_external_name_in_every_spelling():
    rule = "k8s-service-restrict-load-balancer-and-node-port"
    patch = k8s("kubernetes:core/v1:ServicePatch", "s", {"spec": {"externalIPs": ["198.51.100.7"]}})
    assert "sets externalIPs ['198.51.100.7']" in messages(run(rule, [patch]))
    group = make_resource("kubernetes:yaml/v2:ConfigGroup", "g", {"yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: a}\nspec: {type: ExternalName, externalName: evil.example}\n"})
    assert "type ExternalName (evil.example)" in messages(run(rule, [group]))


def test_projected_api_token_brings_back_automount():
    rule = "k8s-pod-disable-service-account-token-automount"
    token = {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
    found = run(rule, [workload(spec=pod_spec(volumes=[token]))])
    assert "projects a service-account token for the Kubernetes API" in messages(found)
    token["projected"]["sources"][0]["serviceAccountToken"]["audience"] = "vault"
    assert run(rule, [workload(spec=pod_spec(volumes=[token]))]) == []


def test_objects_the_engine_hides_at_preview_are_neither_checked_nor_taken_as_missing():
    # A preview whose Kubernetes provider is unknown (the cluster does not exist yet) gives stack
    # rules Kubernetes resources with no properties at all: nothing can be said about them.
    hidden = make_resource(NAMESPACE, "platform-namespaces-tradesense", {})
    assert run("k8s-namespace-require-pod-security-restricted", [hidden]) == []
    assert run("k8s-namespace-require-pod-security-restricted", [hidden, workload(namespace="kube-system")]) == []
    assert run("k8s-namespace-require-default-deny-network-policy", [hidden, workload(namespace="payments")]) == []
    # Without the hidden resource, the same pods are reported.
    assert run("k8s-namespace-require-default-deny-network-policy", [workload(namespace="payments")])


# --- The named opt-out for admission webhooks (openIngressPorts) --------------------------------

WEBHOOK_CONFIG = {"k8s-network-policy-disallow-allow-all-peers": {
    "openIngressPorts": {"monitoring/allow-operator-webhook": [10250]}}}


def open_ingress(name="allow-operator-webhook", ports=({"port": 10250, "protocol": "TCP"},), namespace="monitoring"):
    spec = {"podSelector": {}, "ingress": [{"ports": list(ports)} if ports is not None else {}]}
    return k8s("kubernetes:networking.k8s.io/v1:NetworkPolicy", name, {"spec": spec},
               namespace=namespace)


def test_a_named_webhook_port_may_take_ingress_from_any_source():
    rule = "k8s-network-policy-disallow-allow-all-peers"
    assert run(rule, [open_ingress()], WEBHOOK_CONFIG) == []
    assert run(rule, [open_ingress(ports=({"port": "10250"},))], WEBHOOK_CONFIG) == []


@pytest.mark.parametrize("policy", [
    open_ingress(),  # no opt-out configured
], ids=["without-the-opt-out"])
def test_open_ingress_without_its_opt_out_is_refused(policy):
    assert "has no 'from'" in messages(run("k8s-network-policy-disallow-allow-all-peers", [policy]))


@pytest.mark.parametrize("policy", [
    open_ingress(ports=({"port": 10250}, {"port": 9090})),  # Prometheus's API smuggled beside the webhook
    open_ingress(ports=None),  # every port
    open_ingress(namespace="tradesense"),  # same name, another namespace
    open_ingress(name="allow-operator-webhook-2"),  # a look-alike name
], ids=["extra-port", "every-port", "other-namespace", "other-name"])
def test_the_opt_out_covers_only_its_policy_and_ports(policy):
    assert run("k8s-network-policy-disallow-allow-all-peers", [policy], WEBHOOK_CONFIG)


def test_external_namespaces_are_glob_patterns_and_match_whole_names():
    rule = "k8s-namespace-require-pod-security-restricted"
    pod = workload()  # runs in namespace tradesense, which the stack does not create
    assert run(rule, [pod], {rule: {"externalNamespaces": ["trade*"]}}) == []
    assert "Pods run in namespace tradesense" in messages(run(rule, [pod], {rule: {"externalNamespaces": ["trade"]}}))
    assert run(rule, [pod], {rule: {"externalNamespaces": ["tradesense-pr-*"]}})
