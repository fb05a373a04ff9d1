"""What the real engine refuses in a preview: policy violations through its analyzer, and a malformed
Kubernetes object through the (fake) Kubernetes provider's schema check. Each case is a weakened
temporary copy of the project; nothing is deployed."""

from __future__ import annotations

import pytest

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


# Issue 18: the same effect in other spellings, through the real engine's analyzer. One preview
# per cloud registers a representative subset of the adversarial table (tests/policies/
# adversarial_effect_cases.py); each rule must be named in the preview's mandatory violations.
_K8S_EVASIONS = '''
    import pulumi, pulumi_kubernetes as k8s
    _k = pulumi.ResourceOptions(provider=cluster.provider)
    k8s.core.v1.ServicePatch('evasion-lb-patch', metadata={'name': 'backend', 'namespace': 'tradesense'},
                             spec={'type': 'LoadBalancer'}, opts=_k)
    k8s.yaml.v2.ConfigGroup('evasion-config-group', yaml="""apiVersion: v1
kind: Pod
metadata: {name: evasion, namespace: tradesense}
spec:
  containers: [{name: c, image: 'registry.example.com/c:1.0', securityContext: {privileged: true}}]
""", opts=_k)
    k8s.rbac.v1.ClusterRoleBinding('evasion-authenticated', metadata={'name': 'evasion'},
                                   role_ref={'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': 'view'},
                                   subjects=[{'kind': 'Group', 'apiGroup': 'rbac.authorization.k8s.io', 'name': 'system:authenticated'}], opts=_k)
    k8s.apiextensions.CustomResource('evasion-prometheus', api_version='monitoring.coreos.com/v1', kind='Prometheus',
                                     metadata={'name': 'evasion', 'namespace': 'monitoring'}, spec={'hostPID': True}, opts=_k)
    k8s.core.v1.Namespace('evasion-namespace', metadata={'name': 'evasion'}, opts=_k)
'''

_AWS_EVASIONS = '''
    import json, pulumi_aws as aws
    aws.iam.Policy('evasion-passrole', policy=json.dumps({'Version': '2012-10-17', 'Statement': [
        {'Effect': 'Allow', 'Action': 'iam:Pass*', 'Resource': 'arn:aws:iam::*:role/*'}]}))
    aws.iam.Role('evasion-trust', assume_role_policy=json.dumps({'Version': '2012-10-17', 'Statement': [
        {'Effect': 'Allow', 'Principal': {'AWS': ['*']}, 'Action': 'sts:AssumeRole',
         'Condition': {'StringLike': {'aws:PrincipalArn': '*'}}}]}))
    aws.ec2.SecurityGroup('evasion-ssh', vpc_id='vpc-1', ingress=[
        {'protocol': 'tcp', 'from_port': 22, 'to_port': 22, 'cidr_blocks': ['0.0.0.0/1', '128.0.0.0/1']}])
    aws.iam.Policy('evasion-admin', policy=json.dumps({'Version': '2012-10-17', 'Statement': [
        {'Effect': 'Allow', 'Action': '*', 'Resource': 'arn:aws:*'}]}))
'''


def _preview_with(tmp_path, stack: str, code: str):
    project = _project(tmp_path, stack)
    _edit(project.dir / "__main__.py", "    export_outputs(cluster, platform)\n", "    export_outputs(cluster, platform)\n" + code)
    result = project.pulumi("preview", *project.policy_args, check=False)
    assert result.code != 0, str(result)
    return result


@pytest.fixture(scope="module")
def k8s_evasions_preview(tmp_path_factory):
    return _preview_with(tmp_path_factory.mktemp("k8s-evasions"), "dev", _K8S_EVASIONS)


@pytest.fixture(scope="module")
def aws_evasions_preview(tmp_path_factory):
    return _preview_with(tmp_path_factory.mktemp("aws-evasions"), "prod", _AWS_EVASIONS)


@pytest.mark.parametrize("rule", [
    "k8s-service-restrict-load-balancer-and-node-port", "k8s-pod-disallow-privileged", "k8s-rbac-disallow-public-subject-binding",
    "k8s-pod-disallow-host-namespaces", "k8s-namespace-require-pod-security-restricted",
])
def test_kubernetes_evasions_fail_the_preview_naming_each_rule(k8s_evasions_preview, rule):
    assert f"[mandatory]  {rule}" in k8s_evasions_preview.output, str(k8s_evasions_preview)


@pytest.mark.parametrize("rule", [
    "aws-iam-policy-disallow-privilege-escalation-actions", "aws-iam-role-restrict-trust-policy",
    "aws-ec2-security-group-restrict-world-ingress", "aws-iam-policy-disallow-wildcard-action-on-wildcard-resource",
])
def test_aws_evasions_fail_the_preview_naming_each_rule(aws_evasions_preview, rule):
    assert f"[mandatory]  {rule}" in aws_evasions_preview.output, str(aws_evasions_preview)
