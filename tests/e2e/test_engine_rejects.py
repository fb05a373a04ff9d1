"""What the real engine refuses in a preview: policy violations through its analyzer, and a malformed
Kubernetes object through the (fake) Kubernetes provider's schema check. Each case is a weakened
temporary copy of the project; nothing is deployed."""

from __future__ import annotations


from tests.conftest import TEST_SECRETS
from tests.e2e.harness import Project, require_engine



def _project(tmp_path, stack: str) -> Project:
    project = Project(require_engine(), stack, tmp_path)
    project.init(TEST_SECRETS)
    return project


def _edit(path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{path} no longer contains {old!r}; update this test"
    path.write_text(source.replace(old, new))


def test_privileged_backend_fails_the_preview_naming_the_rule(tmp_path):
    project = _project(tmp_path, "dev")
    _edit(project.dir / "components" / "secure_defaults.py", '"privileged": False', '"privileged": True')
    result = project.pulumi("preview", *project.policy_args, check=False)
    assert result.code != 0, str(result)
    assert "[mandatory]  k8s-pod-disallow-privileged" in result.output, str(result)
    assert "tradesense-backend-deployment" in result.output


def test_eks_endpoint_open_to_the_world_fails_the_preview_naming_the_rule(tmp_path):
    project = _project(tmp_path, "prod")
    project.pulumi("config", "set", "--path", "tradesense:cluster.eks.publicAccessCidrs[0]", "0.0.0.0/0")
    result = project.pulumi("preview", *project.policy_args, check=False)
    assert result.code != 0, str(result)
    assert "[mandatory]  aws-eks-cluster-disallow-public-endpoint" in result.output, str(result)


def test_a_malformed_kubernetes_object_fails_the_preview(tmp_path):
    project = _project(tmp_path, "dev")
    # A ConfigMap's data values must be strings: the API server (here: its OpenAPI schema) refuses 3.
    _edit(project.dir / "__main__.py", "    export_outputs(cluster, platform)\n",
          "    export_outputs(cluster, platform)\n"
          "    import pulumi, pulumi_kubernetes as k8s\n"
          "    k8s.core.v1.ConfigMap('malformed', metadata={'name': 'malformed', 'namespace': 'tradesense'},\n"
          "                          data={'replicas': 3}, opts=pulumi.ResourceOptions(provider=cluster.provider))\n")
    result = project.pulumi("preview", check=False)
    assert result.code != 0, str(result)
    assert "ConfigMap malformed is invalid for Kubernetes 1.35" in result.output, str(result)
