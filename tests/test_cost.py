"""Monthly cost: the estimator against hand-computed fixtures, the plan's numbers, the budget rule.

Every expected figure below is worked out by hand from policies/tradesense_rules/cost_prices.json
(730 h/month; t3.large 0.0832/h; gp3 0.08/GB; NAT 0.045/h + 0.045/GB; IPv4 0.005/h; NLB 0.0225/h +
0.006/NLCU-h; KMS 1; logs 0.50/GB in + 0.03/GB-month; DO s-2vcpu-4gb 24, HA 40, LB 12, volume 0.10, Spaces 5).
"""

from __future__ import annotations

import json

import pytest

from policies.tradesense_rules.cost import ASSUMPTIONS, budget_violation, estimate, gib, standard_support_warning
from tests.policies.fixtures import run
from tools.cost import estimate_recording
from tools.plan import build_plan
from tools.policy_eval import make_resource

PROMETHEUS_VALUES = {
    "prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "50Gi"}}}}}}},
    "alertmanager": {"alertmanagerSpec": {"replicas": 2, "storage": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}}}},
}


def statefulset(replicas: int, size: str) -> dict:
    return {"spec": {"replicas": replicas, "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": size}}}}]}}


EKS_FIXTURE = [
    ("aws:eks/cluster:Cluster", "c", {"version": "1.35"}),
    ("aws:ec2/launchTemplate:LaunchTemplate", "lt", {"name": "lt", "blockDeviceMappings": [{"ebs": {"volumeSize": 20}}]}),
    ("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["t3.large"], "scalingConfig": {"minSize": 2, "maxSize": 4}, "launchTemplate": {"name": "lt"}}),
    ("aws:ec2/natGateway:NatGateway", "nat", {}),
    ("aws:ec2/eip:Eip", "eip", {}),
    ("aws:ec2/subnet:Subnet", "pub-a", {"tags": {"kubernetes.io/role/elb": "1"}}),
    ("aws:ec2/subnet:Subnet", "pub-b", {"tags": {"kubernetes.io/role/elb": "1"}}),
    ("aws:ec2/subnet:Subnet", "priv-a", {"tags": {"kubernetes.io/role/internal-elb": "1"}}),
    ("aws:kms/key:Key", "key", {}),
    ("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 30}),
    ("kubernetes:apps/v1:StatefulSet", "redis", statefulset(1, "10Gi")),
    ("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres", {"spec": {"instances": 3, "storage": {"size": "10Gi"}}}),
    ("kubernetes:helm.sh/v3:Release", "kps", {"chart": "kube-prometheus-stack", "values": PROMETHEUS_VALUES}),
    ("kubernetes:core/v1:Service", "edge", {"spec": {"type": "LoadBalancer"}}),
    ("kubernetes:core/v1:Service", "internal", {"spec": {"type": "ClusterIP"}}),
]


def test_eks_fixture_matches_the_hand_computation():
    result = estimate(EKS_FIXTURE)
    lines = {(i.resource, i.item.split(" (")[0]): i.monthly_usd for i in result.items}
    assert lines[("c", "control plane")] == 73.00  # 0.10 x 730
    assert lines[("ng", "t3.large nodes")] == 121.47  # 2 x 730 x 0.0832 = 121.472
    assert lines[("ng", "gp3 root volumes")] == 3.20  # 2 nodes x 20 GB x 0.08
    assert lines[("nat", "NAT gateway")] == 32.85  # 730 x 0.045
    assert lines[("nat-data", "NAT data processed")] == 4.50  # 100 GB assumed x 0.045
    assert lines[("eip", "public IPv4 address")] == 3.65
    assert lines[("key", "customer-managed KMS key")] == 1.00
    assert lines[("logs", "CloudWatch Logs ingestion")] == 2.50  # 5 GB x 0.50
    assert lines[("logs", "CloudWatch Logs storage")] == 0.15  # 5 GB x 30/30 months x 0.03
    assert lines[("redis", "gp3 data")] == 0.80
    assert lines[("postgres", "gp3 Postgres")] == 2.40  # 3 instances x 10 GiB x 0.08
    assert lines[("kps", "gp3 Prometheus")] == 4.00
    assert lines[("kps", "gp3 Alertmanager")] == 0.32  # 2 x 2 GiB x 0.08
    assert lines[("edge", "Network Load Balancer")] == 16.43  # 730 x 0.0225 = 16.425
    assert lines[("edge", "NLB capacity units")] == 4.38
    assert lines[("edge", "NLB public IPv4")] == 7.30  # two ELB subnets x 730 x 0.005
    assert len(result.items) == 16  # the ClusterIP Service and the private subnet cost nothing
    assert result.total_usd == 277.95
    assert result.ceiling_usd == 402.62  # nodes and root volumes at max 4: +121.47 +3.20
    assert result.extended_support_usd == 438.00  # 0.60 x 730


DOKS_FIXTURE = [
    ("digitalocean:index/kubernetesCluster:KubernetesCluster", "c",
     {"ha": True, "nodePool": {"size": "s-2vcpu-4gb", "minNodes": 2, "maxNodes": 4}}),
    ("kubernetes:apps/v1:StatefulSet", "pg", statefulset(2, "5Gi")),
    ("kubernetes:helm.sh/v3:Release", "ingress", {"chart": "ingress-nginx", "values": {"controller": {"service": {
        "type": "LoadBalancer", "annotations": {"service.beta.kubernetes.io/do-loadbalancer-size-unit": "2"}}}}}),
    ("digitalocean:index/spacesBucket:SpacesBucket", "b1", {}),
    ("digitalocean:index/spacesBucket:SpacesBucket", "b2", {}),
]


def test_doks_fixture_matches_the_hand_computation():
    result = estimate(DOKS_FIXTURE)
    assert [(i.item.split(" (")[0], i.monthly_usd) for i in result.items] == [
        ("s-2vcpu-4gb nodes", 48.00),  # 2 x 24
        ("HA control plane", 40.00),
        ("Spaces subscription", 5.00),  # once, however many buckets
        ("volume data", 1.00),  # 2 replicas x 5 GiB x 0.10
        ("load balancer", 24.00),  # 2 size units x 12
    ]
    assert result.total_usd == 118.00
    assert result.ceiling_usd == 166.00  # 4 nodes: +48
    assert result.extended_support_usd is None


def test_existing_cluster_costs_nothing_extra():
    result = estimate([("kubernetes:apps/v1:StatefulSet", "pg", statefulset(1, "10Gi"))])
    assert result.cloud == "existing" and result.total_usd == 0 and result.items == []


def test_assumptions_are_listed_and_overridable():
    result = estimate(EKS_FIXTURE, assumptions={"natGbPerMonth": 1000})
    nat = next(i for i in result.items if i.item == "NAT data processed")
    assert nat.monthly_usd == 45.00
    assert any(a.startswith("natGbPerMonth = 1000") for a in result.assumptions)
    assert set(ASSUMPTIONS) >= {"natGbPerMonth", "controlPlaneLogGbPerMonth"}


@pytest.mark.parametrize("quantity, expected", [("10Gi", 10), ("512Mi", 0.5), ("1Ti", 1024), ("", 0), ("bogus", 0)])
def test_quantities(quantity, expected):
    assert gib(quantity) == expected


@pytest.fixture(scope="module")
def plans():
    return {stack: build_plan(stack) for stack in ("prod", "staging")}


def test_prod_plan_counts_resources_from_the_recording(plans):
    result = estimate_recording(plans["prod"].recording)
    by_item = [i.item for i in result.items]
    # per-az NAT in prod: 3 gateways and their 3 EIPs; 3 ELB subnets give the NLB 3 addresses
    assert by_item.count("NAT gateway") == 3 and by_item.count("public IPv4 address") == 3
    assert "t3.large nodes (min 3, max 10)" in by_item and "gp3 Postgres (3 instances x 100 GiB)" in by_item
    # 73 + 182.21 + 12 + 3x32.85 + 4.50 + 3x3.65 + 2x1 (KMS) + 2.50 + 1.83 + 2x1.15 (S3, 50 GB each) + 0.80
    # + 3x100x0.08 (Postgres) + 8 + 0.80 + 16.43 + 4.38 + 10.95
    assert result.total_usd == 455.20


def test_staging_plan_matches_the_hand_computation(plans):
    # 3 x 24 nodes + (20 + 2) GiB app volumes + 20 GiB Prometheus + 2 x 2 GiB Alertmanager at 0.10 + one LB 12
    # + the Spaces subscription 5 (backup and uploads buckets)
    assert estimate_recording(plans["staging"].recording).total_usd == 93.60  # 72 + 2.20 + 2.00 + 0.40 + 12 + 5


def test_plan_prints_cost_and_writes_cost_json(tmp_path):
    from tools.plan import main

    assert main(["--stack", "staging", "--out", str(tmp_path), "--cost"]) == 0
    cost = json.loads((tmp_path / "cost.json").read_text())
    assert cost["totalMonthlyUsd"] == 93.60 and cost["items"] and cost["assumptions"]
    assert round(sum(i["monthly_usd"] for i in cost["items"]), 2) == cost["totalMonthlyUsd"]
    config = json.loads((tmp_path / "policy-config.json").read_text())
    assert config["budget"] == {"enforcementLevel": "advisory", "monthlyBudgetUsd": 120.0}


def test_standard_support_warning_within_90_days():
    assert standard_support_warning("1.35", "2026-12-01") is None  # ends 2027-03-27: 116 days
    warning = standard_support_warning("1.35", "2027-01-01")  # 85 days
    assert warning and "2027-03-27" in warning and "85 days" in warning
    assert "ended" in standard_support_warning("1.34", "2026-12-03")
    assert "not in the standard-support table" in standard_support_warning("1.99", "2026-12-01")


BUDGET_RESOURCES = [make_resource(t, n, p) for t, n, p in DOKS_FIXTURE]


def test_budget_rule_reports_an_estimate_over_budget():
    found = run("budget", BUDGET_RESOURCES, {"budget": {"monthlyBudgetUsd": 100}})
    assert len(found) == 1 and found[0].enforcement == "advisory"
    assert "118.00 USD exceeds tradesense:monthlyBudgetUsd 100.00 USD by 18.00" in found[0].message


def test_budget_rule_passes_within_budget_or_without_one():
    assert run("budget", BUDGET_RESOURCES, {"budget": {"monthlyBudgetUsd": 118}}) == []
    assert run("budget", BUDGET_RESOURCES) == []
    assert budget_violation(10, None) is None


def test_prod_plan_is_within_its_budget(plans):
    assert not [v for v in plans["prod"].violations if v["policy"] == "budget"]
    over = build_plan("prod", config_overrides={"tradesense:monthlyBudgetUsd": "300"})
    assert [v["enforcement"] for v in over.violations if v["policy"] == "budget"] == ["advisory"]


def test_review_environment_prices_only_its_volumes(tmp_path):
    from tools.review_stack import materialise, stack_name

    result = estimate_recording(build_plan(stack_name(7), materialise(7, 2, dest=tmp_path)).recording)
    # per environment: Postgres 1 GiB + Redis 1 GiB of do-block-storage at 0.10; no nodes, no LB
    assert result.cloud == "existing" and result.total_usd == 0.40
    assert {i.type for i in result.items} == {"kubernetes:apps/v1:StatefulSet", "kubernetes:postgresql.cnpg.io/v1:Cluster"}


def test_budget_rule_sees_the_same_total_through_engine_shaped_properties():
    # The EKS fixture through the analyzer's proxies (lists, nested maps) gives the hand-computed 277.95.
    found = run("budget", [make_resource(t, n, p) for t, n, p in EKS_FIXTURE], {"budget": {"monthlyBudgetUsd": 277.94}})
    assert len(found) == 1 and "277.95 USD exceeds" in found[0].message


def test_an_instance_type_without_a_price_is_flagged_not_fatal():
    resources = [(t, n, {**p, "instanceTypes": ["m7i.large"]} if t == "aws:eks/nodeGroup:NodeGroup" else p) for t, n, p in EKS_FIXTURE]
    result = estimate(resources)
    nodes = next(i for i in result.items if i.item.startswith("m7i.large nodes"))
    assert nodes.monthly_usd == 0 and "UNPRICED" in nodes.note
    assert any("m7i.large has no price" in a for a in result.assumptions)
    assert result.total_usd == 156.48  # 277.95 - 121.47


def _prod_with_instance_types(types: list[str]) -> dict[str, str]:
    from tests.conftest import stack_config

    return {"tradesense:cluster": stack_config("prod", {"cluster.eks.instanceTypes": types})["tradesense:cluster"]}


def test_the_report_refuses_an_unpriced_size_naming_the_key_and_the_price_file():
    from tools.cost import UnpricedSize

    # m6i.xlarge once totalled less than t3.large because it counted as 0.
    with pytest.raises(UnpricedSize) as info:
        build_plan("prod", config_overrides=_prod_with_instance_types(["m6i.xlarge"]))
    assert "aws.ec2.m6i.xlarge" in str(info.value)
    assert "policies/tradesense_rules/cost_prices.json" in str(info.value)


def test_a_priced_size_still_gives_a_total():
    # The clean look-alike: the committed size, spelled through the same override path.
    result = build_plan("prod", config_overrides=_prod_with_instance_types(["t3.large"]))
    assert result.cost.total_usd == build_plan("prod").cost.total_usd > 0


@pytest.mark.parametrize("command", [["tools.plan", "--stack", "prod"], ["tools.cost", "--stack", "prod"]])
def test_plan_and_cost_exit_2_on_an_unpriced_size(tmp_path, command):
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    # A copy of the repository whose prod stack asks for a size the price table lacks.
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("build", "venv", ".venv-checkov", ".git", "tests", "__pycache__"))
    stack = copy / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text().replace("t3.large", "m6i.xlarge"))
    assert "m6i.xlarge" in stack.read_text()
    proc = subprocess.run([sys.executable, "-m", *command], cwd=copy, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "aws.ec2.m6i.xlarge has no price in policies/tradesense_rules/cost_prices.json" in proc.stderr
    assert "Traceback" not in proc.stderr
