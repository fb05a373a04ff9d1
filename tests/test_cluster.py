"""Each committed stack registers its cluster with the secure settings the foundation promises."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STACKS, run_stack
from tools.mock_runtime import Recording, is_secret, unwrap_secrets

EKS = "aws:eks/cluster:Cluster"


def _provider_urn(ref: str) -> str:
    return ref.rsplit("::", 1)[0]


def test_every_committed_stack_is_covered():
    assert set(STACKS) == {"dev", "staging", "prod"}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_k8s_provider_has_a_stable_cluster_identifier(recordings, stack):
    providers = recordings[stack].of_type("pulumi:providers:kubernetes")
    assert len(providers) == 1
    identifier = providers[0].inputs.get("clusterIdentifier")
    assert identifier and "kubeconfig" not in identifier
    # Every Kubernetes object goes through that provider.
    for obj in recordings[stack].kubernetes_objects():
        assert _provider_urn(obj.provider) == providers[0].urn


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_outputs(recordings, stack):
    rec = recordings[stack]
    cluster_cfg = {"dev": ("tradesense-dev", "existing", None), "staging": ("tradesense-staging", "doks", "nyc1"),
                   "prod": ("tradesense-prod", "eks", "us-east-1")}[stack]
    assert (rec.outputs["clusterName"], rec.outputs["cloud"], rec.outputs["region"]) == cluster_cfg
    if stack != "dev":
        assert "kubeconfig" in rec.secret_outputs
    assert rec.secret_outputs <= {"kubeconfig"} | set(k for k in rec.outputs if "password" in k.lower())


class TestEksProd:
    @pytest.fixture
    def rec(self, recordings) -> Recording:
        return recordings["prod"]

    def test_endpoint_private_and_public_only_from_deployers_and_secrets_encrypted(self, rec):
        cluster = rec.one(EKS)
        vpc = cluster.inputs["vpcConfig"]
        assert vpc["endpointPrivateAccess"] is True
        assert vpc["endpointPublicAccess"] is True
        assert vpc["publicAccessCidrs"] == ["198.51.100.0/24"]
        key = rec.one("aws:kms/key:Key", "tradesense-prod-secrets-key")
        assert key.inputs["enableKeyRotation"] is True
        assert cluster.inputs["encryptionConfig"] == {"provider": {"keyArn": key.outputs["arn"]}, "resources": ["secrets"]}
        assert cluster.inputs["version"] == "1.35"

    def test_private_only_endpoint_admits_the_vpc_on_443(self, rec):
        assert rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []
        private = run_stack("prod", {"cluster.eks.publicAccessCidrs": [], "cluster.eks.privateOnly": True})
        cluster = private.one(EKS)
        vpc = cluster.inputs["vpcConfig"]
        assert vpc["endpointPublicAccess"] is False and vpc["endpointPrivateAccess"] is True
        assert "publicAccessCidrs" not in vpc
        rule = private.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        assert rule.inputs["securityGroupId"] == cluster.outputs["vpcConfig"]["clusterSecurityGroupId"]
        assert (rule.inputs["cidrIpv4"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("10.0.0.0/16", 443, 443)

    def test_k8s_provider_waits_for_admin_access(self, rec):
        provider = rec.one("pulumi:providers:kubernetes")
        association = rec.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        assert association.urn in provider.dependencies

    def test_audit_logs_into_retention_bounded_group(self, rec):
        cluster = rec.one(EKS)
        assert {"api", "audit", "authenticator"} <= set(cluster.inputs["enabledClusterLogTypes"])
        group = rec.one("aws:cloudwatch/logGroup:LogGroup")
        assert group.inputs["name"] == "/aws/eks/tradesense-prod/cluster"
        assert group.inputs["retentionInDays"] == 365
        assert group.urn in cluster.dependencies

    def test_access_entries_api_mode_without_creator_admin(self, rec):
        cluster = rec.one(EKS)
        assert cluster.inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
        entry = rec.one("aws:eks/accessEntry:AccessEntry")
        assert entry.inputs["principalArn"] == "arn:aws:iam::111122223333:role/tradesense-platform-admin"
        association = rec.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        assert association.inputs["policyArn"].endswith(":cluster-access-policy/AmazonEKSClusterAdminPolicy")
        assert association.inputs["accessScope"] == {"type": "cluster"}

    def test_vpc_over_three_azs_with_elb_tags_and_nat_per_az(self, rec):
        subnets = rec.of_type("aws:ec2/subnet:Subnet")
        public = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/elb") == "1"]
        private = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"]
        assert len(public) == len(private) == 3
        assert len({s.inputs["availabilityZone"] for s in private}) == 3
        assert all(not s.inputs.get("mapPublicIpOnLaunch") for s in subnets)
        assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == 3
        nats = {n.id for n in rec.of_type("aws:ec2/natGateway:NatGateway")}
        private_routes = [r for r in rec.of_type("aws:ec2/routeTable:RouteTable") if r.inputs["routes"][0].get("natGatewayId")]
        assert {r.inputs["routes"][0]["natGatewayId"] for r in private_routes} == nats

    def test_more_zones_than_the_region_has_is_a_clear_error(self):
        from components.config import ConfigError
        from tools.mock_runtime import ZONES

        with pytest.raises(ConfigError) as info:
            run_stack("prod", {"cluster.eks.availabilityZones": 6})
        assert info.value.problems == [
            f"tradesense:cluster.eks.availabilityZones must be at most {len(ZONES['us-east-1'])}: us-east-1 has "
            f"{len(ZONES['us-east-1'])} available zones (got 6)"
        ]

    def test_single_nat_when_configured(self):
        rec = run_stack("prod", {"cluster.eks.natGateways": "single"})
        assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == 1

    def test_single_nat_by_default_outside_prod(self):
        overrides = {"environment": "staging", "cluster.eks.natGateways": None}
        rec = run_stack("prod", overrides)
        assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == 1

    def test_node_group_private_al2023_imdsv2_autoscaler_owned(self, rec):
        nodes = rec.one("aws:eks/nodeGroup:NodeGroup")
        private_ids = {s.id for s in rec.of_type("aws:ec2/subnet:Subnet") if "internal-elb" in json.dumps(s.inputs["tags"])}
        assert set(nodes.inputs["subnetIds"]) == private_ids
        assert nodes.inputs["amiType"].startswith("AL2023")
        assert nodes.inputs["scalingConfig"] == {"minSize": 3, "maxSize": 10, "desiredSize": 3}
        assert nodes.inputs["instanceTypes"] == ["t3.large"]
        assert "scalingConfig.desiredSize" in nodes.ignore_changes
        assert "updateConfig" in nodes.inputs
        template = rec.one("aws:ec2/launchTemplate:LaunchTemplate")
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"
        assert template.inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
        assert nodes.inputs["launchTemplate"]["id"] == template.id

    def test_managed_addons_and_ebs_csi_irsa(self, rec):
        addons = {a.inputs["addonName"]: a for a in rec.of_type("aws:eks/addon:Addon")}
        assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"}
        role_arn = addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"]
        role = next(r for r in rec.of_type("aws:iam/role:Role") if r.outputs["arn"] == role_arn)
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        oidc = rec.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
        assert trust["Principal"]["Federated"] == oidc.outputs["arn"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        conditions = trust["Condition"]["StringEquals"]
        assert conditions[f"{oidc.outputs['url']}:sub"] == "system:serviceaccount:kube-system:ebs-csi-controller-sa"
        assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]

    def test_encrypted_gp3_default_storage_class(self, rec):
        sc = rec.one("kubernetes:storage.k8s.io/v1:StorageClass")
        assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
        assert sc.inputs["parameters"]["type"] == "gp3"
        assert sc.inputs["parameters"]["encrypted"] == "true"
        assert sc.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"

    def test_kubeconfig_uses_aws_eks_get_token_and_is_secret(self, rec):
        provider = rec.one("pulumi:providers:kubernetes")
        assert is_secret(provider.inputs["kubeconfig"])
        kubeconfig = json.loads(unwrap_secrets(provider.inputs["kubeconfig"]))
        user = kubeconfig["users"][0]["user"]["exec"]
        assert user["command"] == "aws"
        assert user["args"][:2] == ["eks", "get-token"] and "tradesense-prod" in user["args"]
        assert kubeconfig["clusters"][0]["cluster"]["server"] == rec.one(EKS).outputs["endpoint"]

    def test_every_aws_resource_carries_default_tags(self, rec):
        aws_provider = rec.one("pulumi:providers:aws")
        assert aws_provider.inputs["region"] == "us-east-1"
        tags = json.loads(aws_provider.inputs["defaultTags"])["tags"] if isinstance(aws_provider.inputs["defaultTags"], str) \
            else aws_provider.inputs["defaultTags"]["tags"]
        assert tags == {"Project": "tradesense", "Environment": "prod", "ManagedBy": "pulumi"}
        for resource in rec.resources:
            if resource.type.startswith("aws:"):
                assert _provider_urn(resource.provider) == aws_provider.urn, resource.name

    def test_prod_protects_cluster_key_and_node_group(self, rec):
        for type_ in (EKS, "aws:eks/nodeGroup:NodeGroup"):
            assert rec.one(type_).protect, type_
        assert all(key.protect for key in rec.of_type("aws:kms/key:Key"))
        assert rec.one(EKS).inputs["deletionProtection"] is True

    def test_non_prod_eks_is_not_protected(self):
        rec = run_stack("prod", {"environment": "staging"})
        assert not any(r.protect for r in rec.resources)


class TestDoksStaging:
    @pytest.fixture
    def rec(self, recordings) -> Recording:
        return recordings["staging"]

    def test_version_picked_by_prefix(self, rec):
        token, args = next(c for c in rec.calls if c[0].endswith("getKubernetesVersions"))
        assert args == {"versionPrefix": "1.35."}
        cluster = rec.one("digitalocean:index/kubernetesCluster:KubernetesCluster")
        # The newest 1.35 release the (mocked) API listed, not a newer minor.
        assert cluster.inputs["version"] == "1.35.3-do.1"

    def test_cluster_settings(self, rec):
        cluster = rec.one("digitalocean:index/kubernetesCluster:KubernetesCluster")
        inputs = cluster.inputs
        assert inputs["region"] == "nyc1"
        assert inputs["autoUpgrade"] is True and inputs["surgeUpgrade"] is True
        assert inputs["maintenancePolicy"] == {"day": "saturday", "startTime": "02:00"}
        pool = inputs["nodePool"]
        assert pool["size"] == "s-2vcpu-4gb"
        assert pool["autoScale"] is True and pool["minNodes"] == 3 and pool["maxNodes"] == 5
        assert inputs["vpcUuid"] == rec.one("digitalocean:index/vpc:Vpc").id
        assert set(inputs["tags"]) == {"project-tradesense", "environment-staging", "managedby-pulumi"}
        assert inputs.get("ha") is False

    def test_version_follows_the_prefix_and_node_count_belongs_to_the_autoscaler(self, rec):
        cluster = rec.one("digitalocean:index/kubernetesCluster:KubernetesCluster")
        assert cluster.ignore_changes == ["nodePool.nodeCount"]

    def test_control_plane_firewall_only_when_cidrs_are_listed(self, rec):
        assert "controlPlaneFirewall" not in rec.one("digitalocean:index/kubernetesCluster:KubernetesCluster").inputs
        locked = run_stack("staging", {"cluster.doks.apiAllowedCidrs": ["198.51.100.0/24"]})
        firewall = locked.one("digitalocean:index/kubernetesCluster:KubernetesCluster").inputs["controlPlaneFirewall"]
        assert firewall == {"enabled": True, "allowedAddresses": ["198.51.100.0/24"]}

    def test_ha_control_plane_when_configured(self):
        rec = run_stack("staging", {"cluster.doks.ha": True})
        assert rec.one("digitalocean:index/kubernetesCluster:KubernetesCluster").inputs["ha"] is True

    def test_kubeconfig_uses_doctl_exec_credential(self, rec):
        provider = rec.one("pulumi:providers:kubernetes")
        kubeconfig = json.loads(unwrap_secrets(provider.inputs["kubeconfig"]))
        user = kubeconfig["users"][0]["user"]["exec"]
        assert user["command"] == "doctl"
        assert user["args"][-1] == rec.one("digitalocean:index/kubernetesCluster:KubernetesCluster").id


class TestExistingDev:
    def test_context_based_provider(self, recordings):
        provider = recordings["dev"].one("pulumi:providers:kubernetes")
        assert provider.inputs["context"] == "kind-tradesense"
        assert "kubeconfig" not in provider.inputs

    def test_kubeconfig_from_secret_config_stays_secret(self):
        rec = run_stack("dev", {"cluster.existing.context": None}, extra_config={"tradesense:kubeconfig": "apiVersion: v1\nkind: Config\n"})
        provider = rec.one("pulumi:providers:kubernetes")
        assert is_secret(provider.inputs["kubeconfig"])
        assert "kubeconfig" in rec.secret_outputs
