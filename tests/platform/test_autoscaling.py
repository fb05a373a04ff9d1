"""metrics-server where the cluster has none; cluster-autoscaler with IRSA on EKS only."""

from __future__ import annotations

import json

import pytest

from tests.platform.conftest import run_platform, stack_file
from tools.mock_runtime import unwrap_secrets

CA = "cluster-autoscaler"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_metrics_server_is_installed_where_the_cluster_lacks_one(platform_runs, stack):
    # None of the three clusters ships one (kind, DOKS and EKS all leave it to the user).
    run = platform_runs[(stack, "gateway-api")]
    assert "metrics-server" in run.releases()
    values = run.values("metrics-server")
    # Only where the stack says so: dev (kind) sets cluster.existing.kubeletInsecureTls.
    expected = bool(stack_file(stack)["tradesense:cluster"].get("existing", {}).get("kubeletInsecureTls"))
    assert ("--kubelet-insecure-tls" in values.get("args", [])) is expected
    assert expected is (stack == "dev")
    # Its /metrics is scraped through the chart's ServiceMonitor, which needs the operator's CRDs.
    assert values["metrics"] == {"enabled": True} and values["serviceMonitor"] == {"enabled": True}
    assert run.depends_on(run.releases()["metrics-server"], run.releases()["kube-prometheus-stack"])


def test_an_adopted_cluster_checks_kubelet_certificates_unless_told_otherwise():
    run = run_platform("dev", {"cluster.existing.kubeletInsecureTls": False})
    assert "--kubelet-insecure-tls" not in run.values("metrics-server").get("args", [])


def test_kubelet_insecure_tls_must_be_a_boolean():
    from components.cluster.config import ExistingConfig

    assert ExistingConfig().kubelet_insecure_tls is False
    with pytest.raises(ValueError):
        ExistingConfig.model_validate({"kubeletInsecureTls": "sometimes"})


def test_no_metrics_server_when_the_cluster_has_one():
    run = run_platform("dev", {"cluster.existing.hasMetricsServer": True})
    assert "metrics-server" not in run.releases()
    assert not [r for r in run.recording.of_type("kubernetes:core/v1:Namespace")
                if r.inputs["metadata"]["name"] == "autoscaling"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_cluster_autoscaler_only_where_the_cluster_needs_it(platform_runs, stack):
    # DOKS scales its node pool itself; the local cluster does not scale.
    run = platform_runs[(stack, "gateway-api")]
    assert CA not in run.releases()
    assert not [r for r in run.recording.resources if CA in r.name]


def test_eks_cluster_autoscaler_uses_irsa_and_tag_discovery(platform_runs):
    run = platform_runs[("prod", "gateway-api")]
    cluster_name = stack_file("prod")["tradesense:cluster"]["name"]
    values = run.values(CA)
    namespace = run.releases()[CA].inputs["namespace"]
    assert values["cloudProvider"] == "aws"
    assert values["autoDiscovery"]["clusterName"] == cluster_name
    sa = values["rbac"]["serviceAccount"]
    role_arn = sa["annotations"]["eks.amazonaws.com/role-arn"]

    (role,) = [r for r in run.recording.of_type("aws:iam/role:Role") if r.outputs["arn"] == role_arn]
    trust = json.loads(unwrap_secrets(role.inputs["assumeRolePolicy"]))
    (statement,) = trust["Statement"]
    subjects = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == [f"system:serviceaccount:{namespace}:{sa['name']}"]

    (policy,) = [p for p in run.recording.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(role.name)]
    document = json.loads(unwrap_secrets(policy.inputs["policy"]))
    actions = [a for s in document["Statement"] for a in s["Action"]]
    assert not [a for a in actions if a.endswith("*")]
    writes = [s for s in document["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"]]
    assert writes and all(
        s["Condition"]["StringEquals"] == {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"} for s in writes
    )
    # The node group carries the tags auto-discovery looks for.
    node_group = run.recording.one("aws:eks/nodeGroup:NodeGroup")
    assert node_group.inputs["tags"][f"k8s.io/cluster-autoscaler/{cluster_name}"] == "owned"
    assert node_group.inputs["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
    # Its metrics are scraped: the chart's ServiceMonitor, next to the release, after the CRDs.
    assert values["serviceMonitor"] == {"enabled": True, "namespace": namespace}
    assert run.depends_on(run.releases()[CA], run.releases()["kube-prometheus-stack"])


def test_cluster_autoscaler_minor_matches_the_cluster(platform_runs):
    run = platform_runs[("prod", "gateway-api")]
    minor = stack_file("prod")["tradesense:cluster"]["eks"]["version"]
    assert run.values(CA)["image"]["tag"].startswith(f"v{minor}.")
