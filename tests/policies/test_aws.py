"""EKS control plane, KMS rotation, IAM wildcards and node-group subnets."""

from __future__ import annotations

import json

import pytest

from .fixtures import DELETE, UNKNOWN, make_resource, messages, patched, run

CLUSTER = "aws:eks/cluster:Cluster"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/abc"


def cluster(**changes):
    base = {
        "name": "tradesense-prod",
        "version": "1.33",
        "vpcConfig": {"subnetIds": ["subnet-a", "subnet-b"], "endpointPrivateAccess": True, "endpointPublicAccess": False},
        "encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": ["secrets"]},
        "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    }
    return make_resource(CLUSTER, "prod-cluster", patched(base, changes))


# rule, changes that violate it, expected text, changes that make the same input unknown
CASES = [
    ("aws-eks-cluster-disallow-public-endpoint", {"vpcConfig.endpointPublicAccess": True}, "open to 0.0.0.0/0 (publicAccessCidrs unset)",
     {"vpcConfig.endpointPublicAccess": True, "vpcConfig.publicAccessCidrs": UNKNOWN}),
    # Missing endpointPublicAccess is the provider default: public.
    ("aws-eks-cluster-disallow-public-endpoint", {"vpcConfig.endpointPublicAccess": DELETE}, "public API endpoint",
     {"vpcConfig.endpointPublicAccess": UNKNOWN}),
    ("aws-eks-cluster-disallow-public-endpoint",
     {"vpcConfig.endpointPublicAccess": True, "vpcConfig.publicAccessCidrs": ["203.0.113.0/24", "0.0.0.0/0"]}, "open to ['0.0.0.0/0']",
     {"vpcConfig.endpointPublicAccess": True, "vpcConfig.publicAccessCidrs": ["203.0.113.0/24", UNKNOWN]}),
    ("aws-eks-cluster-require-secrets-encryption", {"encryptionConfig": DELETE}, "does not envelope-encrypt Secrets",
     {"encryptionConfig": UNKNOWN}),
    ("aws-eks-cluster-require-secrets-encryption", {"encryptionConfig.provider.keyArn": ""}, "no provider.keyArn",
     {"encryptionConfig.provider.keyArn": UNKNOWN}),
    ("aws-eks-cluster-require-audit-logging", {"enabledClusterLogTypes": ["api"]}, "logs ['audit']",
     {"enabledClusterLogTypes": UNKNOWN}),
]


def test_compliant_cluster():
    for rule in {c[0] for c in CASES}:
        assert run(rule, [cluster()]) == [], rule
    restricted = cluster(**{"vpcConfig.endpointPublicAccess": True, "vpcConfig.publicAccessCidrs": ["203.0.113.0/24"]})
    assert run("aws-eks-cluster-disallow-public-endpoint", [restricted]) == []


@pytest.mark.parametrize("rule,changes,expected,unknown", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_cluster_violation_and_unknown(rule, changes, expected, unknown):
    found = run(rule, [cluster(**changes)])
    assert found and found[0].enforcement == "mandatory"
    assert expected in messages(found) and "prod-cluster" in messages(found)
    assert run(rule, [cluster(**unknown)]) == []


def test_audit_log_types_option():
    config = {"aws-eks-cluster-require-audit-logging": {"requiredLogTypes": ["audit", "authenticator"]}}
    found = run("aws-eks-cluster-require-audit-logging", [cluster(enabledClusterLogTypes=["audit"])], config)
    assert "['authenticator']" in messages(found)


def kms(**inputs):
    return make_resource("aws:kms/key:Key", "secrets-key", {"description": "EKS secrets", **inputs})


def test_kms_rotation():
    rule = "aws-kms-key-require-rotation"
    assert run(rule, [kms(enableKeyRotation=True)]) == []
    # Missing enableKeyRotation is the provider default: off.
    assert "does not enable automatic key rotation" in messages(run(rule, [kms()]))
    assert run(rule, [kms(enableKeyRotation=False)])
    assert run(rule, [kms(enableKeyRotation=UNKNOWN)]) == []
    # Asymmetric keys cannot rotate.
    assert run(rule, [kms(customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY")]) == []


def document(action="s3:GetObject", resource="arn:aws:s3:::bucket/*", sid="Read"):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}]})


IAM = "aws-iam-policy-disallow-wildcard-action-on-wildcard-resource"


@pytest.mark.parametrize(
    "resource",
    [
        make_resource("aws:iam/policy:Policy", "read", {"policy": document()}),
        make_resource("aws:iam/rolePolicy:RolePolicy", "s3", {"role": "r", "policy": document("s3:*", "*")}),
        make_resource("aws:iam/rolePolicy:RolePolicy", "deny", {"role": "r", "policy": json.dumps(
            {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})}),
        make_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "eks", {
            "role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}),
    ],
    ids=["scoped", "service-wildcard", "deny", "managed"],
)
def test_iam_compliant(resource):
    assert run(IAM, [resource]) == []


@pytest.mark.parametrize(
    "resource,expected",
    [
        (make_resource("aws:iam/policy:Policy", "admin", {"policy": document("*", "*", "Admin")}), "statement Admin allows Action '*'"),
        (make_resource("aws:iam/rolePolicy:RolePolicy", "admin", {"role": "r", "policy": document(["s3:GetObject", "*:*"], ["*"])}),
         "statement Read allows"),
        (make_resource("aws:iam/role:Role", "admin", {"assumeRolePolicy": "{}", "inlinePolicies": [
            {"name": "everything", "policy": document("*", "*")}]}), "inline policy 'everything'"),
        (make_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin", {
            "role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}), "attaches arn:aws:iam::aws:policy/AdministratorAccess"),
    ],
    ids=["policy", "role-policy-list", "role-inline", "admin-attachment"],
)
def test_iam_violation(resource, expected):
    found = run(IAM, [resource])
    assert found and found[0].enforcement == "mandatory" and expected in messages(found)


def test_iam_unknown_policy():
    assert run(IAM, [make_resource("aws:iam/rolePolicy:RolePolicy", "x", {"role": "r", "policy": UNKNOWN})]) == []


# --- node groups (stack rule) -----------------------------------------------------------------

NODES = "aws-eks-node-group-require-private-subnets"


def subnet(name, public, **extra):
    tags = {"Name": name, ("kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"): "1"}
    return make_resource("aws:ec2/subnet:Subnet", name, {"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/20", "tags": tags, **extra})


def node_group(subnets, subnet_ids=None):
    ids = subnet_ids if subnet_ids is not None else [s.id for s in subnets]
    return make_resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"clusterName": "c", "subnetIds": ids},
                         property_dependencies={"subnetIds": [s.urn for s in subnets]})


def test_node_group_in_private_subnets():
    private = [subnet("private-0", False), subnet("private-1", False)]
    assert run(NODES, [*private, node_group(private)]) == []


def test_node_group_in_public_subnet_is_reported():
    public = subnet("public-0", True)
    private = subnet("private-0", False)
    found = run(NODES, [public, private, node_group([private, public])])
    assert "EKS node group nodes places nodes in public subnet public-0" in messages(found)
    assert found[0].urn.endswith("::nodes") and found[0].resource_type == "aws:eks/nodeGroup:NodeGroup"
    mapped = subnet("mapped", False, mapPublicIpOnLaunch=True)
    assert run(NODES, [mapped, node_group([mapped])])


def test_node_group_matched_by_id_without_property_dependencies():
    public = subnet("public-0", True)
    public.outputs["id"] = "subnet-0123"
    group = make_resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"clusterName": "c", "subnetIds": ["subnet-0123"]})
    assert run(NODES, [public, group])


def test_node_group_unknown_subnets_are_skipped():
    group = make_resource("aws:eks/nodeGroup:NodeGroup", "nodes", {"clusterName": "c", "subnetIds": [UNKNOWN, UNKNOWN]})
    assert run(NODES, [subnet("public-0", True), group]) == []
    unknown = subnet("maybe", False, mapPublicIpOnLaunch=UNKNOWN)
    unknown.outputs["tags"] = UNKNOWN
    assert run(NODES, [unknown, node_group([unknown], [UNKNOWN])]) == []
