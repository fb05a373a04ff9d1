"""Stack rules: NetworkPolicy coverage, PDBs, backups, HPA minimums and protection in prod."""

from __future__ import annotations

import pytest

from .fixtures import DELETE, LABELS, UNKNOWN, k8s, k8s_provider, make_resource, messages, provider_reference, run, workload

NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


def namespace(name="tradesense"):
    return k8s("kubernetes:core/v1:Namespace", name, {}, namespace=DELETE)


def default_deny(ns="tradesense", **changes):
    spec = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], **changes}
    return k8s(NP, "default-deny", {"spec": spec}, namespace=ns)


def allow(name="backend", labels=None, ns="tradesense"):
    selector = {"matchLabels": dict(labels or {"app.kubernetes.io/name": name})}
    spec = {"podSelector": selector, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}
    return k8s(NP, f"allow-{name}", {"spec": spec}, namespace=ns)


# --- default deny -----------------------------------------------------------------------------

DENY = "k8s-namespace-require-default-deny-network-policy"


def test_default_deny_present():
    assert run(DENY, [namespace(), default_deny(), workload()]) == []


@pytest.mark.parametrize(
    "policies",
    [[], [default_deny(policyTypes=["Ingress"])], [default_deny(podSelector={"matchLabels": {"a": "b"}})],
     [default_deny(ingress=[{"from": [{"podSelector": {}}]}])], [default_deny(ns="other")]],
    ids=["none", "ingress-only", "not-empty-selector", "allows-traffic", "other-namespace"],
)
def test_default_deny_missing(policies):
    found = run(DENY, [namespace(), workload(), *policies])
    assert found and found[0].enforcement == "mandatory" and found[0].urn is None
    assert "Namespace tradesense has no default-deny NetworkPolicy" in messages(found)


def test_default_deny_for_every_namespace_that_runs_pods_unless_named():
    assert run(DENY, []) == []  # no pods in this stack (e.g. cluster-only)
    assert run(DENY, [namespace("monitoring")]) == []  # a namespace without pods
    # A new namespace with pods is covered by default; a Helm release's namespace runs pods too.
    assert "Namespace monitoring" in messages(run(DENY, [namespace("monitoring"), workload(namespace="monitoring")]))
    release = make_resource("kubernetes:helm.sh/v3:Release", "kps", {"chart": "kube-prometheus-stack", "namespace": "monitoring"})
    assert "Namespace monitoring" in messages(run(DENY, [release]))
    config = {DENY: {"exemptNamespaces": ["monitoring"]}}
    assert run(DENY, [release, workload(namespace="monitoring")], config) == []


def test_default_deny_unknown_skips():
    assert run(DENY, [namespace(), default_deny(policyTypes=UNKNOWN)]) == []
    assert run(DENY, [namespace(), default_deny(ns=UNKNOWN)]) == []


# --- pods selected ----------------------------------------------------------------------------

SELECTED = "k8s-pod-require-network-policy"


def test_pods_selected_by_allow_policy():
    assert run(SELECTED, [namespace(), default_deny(), allow(), workload()]) == []
    expr = k8s(NP, "expr", {"spec": {"podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/part-of", "operator": "In", "values": ["tradesense"]}]}, "policyTypes": ["Ingress"]}})
    assert run(SELECTED, [namespace(), expr, workload()]) == []


def test_pod_not_selected_is_reported():
    found = run(SELECTED, [namespace(), default_deny(), allow("frontend"), workload()])
    assert "Deployment tradesense/backend" in messages(found) and "not selected by any NetworkPolicy" in messages(found)
    assert found[0].urn.endswith("::backend")
    # A policy in another namespace does not select it either.
    assert run(SELECTED, [namespace(), allow(ns="other"), workload()])


def test_pods_in_every_namespace_are_checked_unless_the_namespace_is_named():
    assert run(SELECTED, [namespace("monitoring"), workload(namespace="monitoring")])
    config = {SELECTED: {"exemptNamespaces": ["monitoring"]}}
    assert run(SELECTED, [namespace("monitoring"), workload(namespace="monitoring")], config) == []


def test_pods_selected_unknowns_skip():
    unknown_np = k8s(NP, "allow", {"spec": {"podSelector": UNKNOWN, "policyTypes": ["Ingress"]}})
    assert run(SELECTED, [namespace(), unknown_np, workload()]) == []
    assert run(SELECTED, [namespace(), workload(labels=UNKNOWN)]) == []


@pytest.mark.parametrize("rule", [SELECTED, DENY, "k8s-workload-require-pod-disruption-budget"])
def test_unknown_network_policy_namespace_is_neither_a_crash_nor_a_violation(rule):
    # A NetworkPolicy (or provider) namespace unknown at preview once made the rule raise an
    # AssertionError (an UnknownValueError built from no sentinel), which fails the whole preview.
    unknown_ns = k8s(NP, "allow", {"spec": {"podSelector": {"matchLabels": {"x": "y"}}, "policyTypes": ["Ingress"]}}, namespace=UNKNOWN)
    provider = k8s_provider(namespace=UNKNOWN)
    resources = [provider, namespace(), unknown_ns, default_deny(), workload(), workload(name="w2", namespace=DELETE, provider=provider_reference(provider))]
    assert [v for v in run(rule, resources) if "can't run" in v.message] == []


# --- PDB --------------------------------------------------------------------------------------

PDB_RULE = "k8s-workload-require-pod-disruption-budget"


def pdb(selector=None, ns="tradesense"):
    spec = {"minAvailable": 1}
    if selector is not DELETE:
        spec["selector"] = {"matchLabels": dict(LABELS)} if selector is None else selector
    return k8s(PDB, "backend", {"spec": spec}, namespace=ns)


def hpa(target="backend", min_replicas=2):
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}, "maxReplicas": 6}
    if min_replicas is not DELETE:
        spec["minReplicas"] = min_replicas
    return k8s(HPA, "backend", {"spec": spec})


def test_pdb_compliant():
    assert run(PDB_RULE, [workload(replicas=3), pdb()]) == []
    assert run(PDB_RULE, [workload(replicas=1)]) == []
    assert run(PDB_RULE, [workload()]) == []  # replicas defaults to 1


@pytest.mark.parametrize(
    "resources,expected",
    [
        ([workload(replicas=3)], "runs 3 replicas but no PodDisruptionBudget"),
        ([workload(), hpa()], "is scaled by an HPA but no PodDisruptionBudget"),
        ([workload(replicas=2), pdb(selector={"matchLabels": {"app.kubernetes.io/name": "frontend"}})], "runs 2 replicas"),
        ([workload(replicas=2), pdb(selector=DELETE)], "runs 2 replicas"),  # policy/v1: null selector selects nothing
        ([workload(replicas=2), pdb(ns="other")], "runs 2 replicas"),
        ([workload("StatefulSet", replicas=3)], "StatefulSet tradesense/backend runs 3 replicas"),
    ],
    ids=["replicas", "hpa", "other-selector", "null-selector", "other-namespace", "statefulset"],
)
def test_pdb_missing(resources, expected):
    found = run(PDB_RULE, resources)
    assert found and found[0].enforcement == "advisory" and expected in messages(found)


def test_pdb_unknowns_skip():
    assert run(PDB_RULE, [workload(replicas=UNKNOWN)]) == []
    assert run(PDB_RULE, [workload(replicas=3), pdb(selector=UNKNOWN)]) == []


# --- backups ----------------------------------------------------------------------------------

BACKUPS = "stack-require-backup-cronjob"


def backup_job(**changes):
    labels = {**LABELS, "app.kubernetes.io/component": "backup"}
    return workload("CronJob", name="db-backup", metadata_labels=labels, **changes)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_backups_required_outside_dev(env):
    config = {BACKUPS: {"environment": env}}
    assert run(BACKUPS, [backup_job()], config) == []
    found = run(BACKUPS, [workload("CronJob")], config)
    assert f"No backup is configured in {env}" in messages(found) and found[0].enforcement == "advisory"


def test_backups_defaults_to_strict_and_skips_dev():
    assert run(BACKUPS, [])  # no environment option: treated as prod
    assert run(BACKUPS, [], {BACKUPS: {"environment": "dev"}}) == []


def test_suspended_or_unknown_backup_job():
    suspended = backup_job()
    suspended.outputs["spec"]["suspend"] = True
    assert run(BACKUPS, [suspended])
    unknown = backup_job()
    unknown.outputs["metadata"]["labels"] = UNKNOWN
    unknown.outputs["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"] = UNKNOWN
    assert run(BACKUPS, [unknown]) == []  # labels unknown at preview: it may be the backup, no violation


def cnpg(plugins: list, suspend: bool = False):
    cluster = k8s("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres", {"spec": {"instances": 3, "plugins": plugins}})
    scheduled = k8s("kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "postgres-daily",
                    {"spec": {"schedule": "0 0 2 * * *", "cluster": {"name": "postgres"}, "method": "plugin", "suspend": suspend}})
    return [cluster, scheduled]


def test_a_scheduled_backup_with_wal_archiving_counts_as_the_backup():
    archiver = [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True}]
    config = {BACKUPS: {"environment": "prod"}}
    assert run(BACKUPS, cnpg(archiver), config) == []
    # Without WAL archiving a daily base backup loses up to a day: not enough.
    assert "no CloudNativePG ScheduledBackup" in messages(run(BACKUPS, cnpg([]), config))
    assert run(BACKUPS, cnpg(archiver, suspend=True), config)


# --- HPA minimum ------------------------------------------------------------------------------

HPA_RULE = "k8s-hpa-require-min-replicas"


def test_hpa_min_replicas_in_prod():
    assert run(HPA_RULE, [hpa(min_replicas=2)]) == []
    found = run(HPA_RULE, [hpa(min_replicas=1)])
    assert "has minReplicas 1; prod needs at least 2" in messages(found)
    assert run(HPA_RULE, [hpa(min_replicas=DELETE)])  # defaults to 1
    assert run(HPA_RULE, [hpa(min_replicas=UNKNOWN)]) == []
    assert run(HPA_RULE, [hpa(min_replicas=1)], {HPA_RULE: {"environment": "staging"}}) == []
    assert run(HPA_RULE, [hpa(min_replicas=2)], {HPA_RULE: {"minReplicas": 3}})


# --- protection -------------------------------------------------------------------------------

PROTECT = "stack-stateful-resources-require-protect"


@pytest.mark.parametrize(
    "type_",
    ["aws:eks/cluster:Cluster", "aws:kms/key:Key", "aws:eks/nodeGroup:NodeGroup", "aws:s3/bucketV2:BucketV2",
     "kubernetes:core/v1:PersistentVolumeClaim", "digitalocean:index/kubernetesCluster:KubernetesCluster"],
)
def test_stateful_resources_protected_in_prod(type_):
    assert run(PROTECT, [make_resource(type_, "state", {}, protect=True)]) == []
    found = run(PROTECT, [make_resource(type_, "state", {})])
    assert "holds state but is not protected" in messages(found) and found[0].enforcement == "advisory"
    assert run(PROTECT, [make_resource(type_, "state", {})], {PROTECT: {"environment": "staging"}}) == []


def test_stateless_resources_need_no_protection():
    assert run(PROTECT, [make_resource("aws:ec2/subnet:Subnet", "s", {}), workload()]) == []
    assert run(PROTECT, [workload("StatefulSet")])


def test_namespace_from_provider_in_stack_rules():
    provider = k8s_provider(namespace="tradesense")
    ref = provider_reference(provider)
    resources = [provider, namespace(), default_deny(), workload(namespace=DELETE, provider=ref)]
    found = run(SELECTED, resources)
    assert "Deployment tradesense/backend" in messages(found)
