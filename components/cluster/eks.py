"""AWS EKS (the guide's Option A) with terraform-aws-eks style secure defaults.

Private endpoint always on; public endpoint only from configured CIDRs; KMS envelope
encryption of Secrets; control-plane audit logs into a retention-bounded log group; access
entries (API mode, no implicit creator admin); IRSA; a managed AL2023 node group in private
subnets with IMDSv2; managed add-ons; an encrypted gp3 default StorageClass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster.aws_network import EksVpc, EksVpcArgs
from components.cluster.config import EksConfig
from components.cluster.eks_identity import IrsaIdentity
from components.cluster.interface import ClusterInterface
from components.cluster.kubeconfig import exec_kubeconfig
from components.config import ConfigError

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ADMIN_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
EBS_CSI_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
CLUSTER_POLICIES = ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]
NODE_POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
]
STORAGE_CLASS = "gp3-encrypted"


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@dataclass(frozen=True)
class EksClusterArgs:
    cluster_name: str
    region: str
    config: EksConfig
    nat_per_az: bool
    tags: dict[str, str]
    protect: bool = False


class EksCluster(pulumi.ComponentResource):
    interface: ClusterInterface
    cluster_arn: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:EksCluster", name, None, opts)
        cfg = args.config
        # Every AWS resource below goes through this provider, so all of them carry the default tags.
        aws_provider = aws.Provider(f"{name}-aws", region=args.region, default_tags={"tags": args.tags}, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=aws_provider)
        guarded = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect))

        network = EksVpc(
            f"{name}-network",
            EksVpcArgs(args.cluster_name, cfg.vpc_cidr, self._zones(args, aws_provider), args.nat_per_az),
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": aws_provider}),
        )

        key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"EKS secrets envelope encryption for {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=guarded,
        )
        aws.kms.Alias(f"{name}-secrets-key-alias", name=f"alias/{args.cluster_name}-eks-secrets", target_key_id=key.key_id, opts=child)

        # Created first so EKS writes into it instead of making a group that never expires.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=cfg.log_retention_days,
            opts=child,
        )

        cluster_role = self._role(f"{name}-cluster-role", "eks.amazonaws.com", CLUSTER_POLICIES, child)
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=cfg.version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": network.private_subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": not cfg.private_only,
                "public_access_cidrs": cfg.public_access_cidrs or None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False},
            # The managed add-ons below own vpc-cni, coredns and kube-proxy.
            bootstrap_self_managed_addons=False,
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=args.protect,
            opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(depends_on=[log_group])),
        )

        if cfg.private_only:
            # Deployers inside the VPC (VPN, in-VPC runners) reach the private endpoint on 443.
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-vpc",
                security_group_id=cluster.vpc_config.cluster_security_group_id,
                cidr_ipv4=cfg.vpc_cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="Kubernetes API from inside the VPC",
                opts=child,
            )

        admin_access = []
        for index, principal in enumerate(cfg.admins):
            entry = aws.eks.AccessEntry(f"{name}-admin-{index}", cluster_name=cluster.name, principal_arn=principal, type="STANDARD", opts=child)
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}-policy",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=ADMIN_POLICY_ARN,
                access_scope={"type": "cluster"},
                opts=child,
            )
            admin_access.append(association)

        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer),
            client_id_lists=["sts.amazonaws.com"],
            opts=child,
        )
        identity = IrsaIdentity(oidc.arn, oidc.url, aws_provider)

        # Networking add-ons come before nodes: without bootstrap add-ons nodes never get Ready otherwise.
        network_addons = [
            # The VPC CNI enforces NetworkPolicies only with its policy agent switched on.
            self._addon(name, cluster, "vpc-cni", child, configuration_values=json.dumps({"enableNetworkPolicy": "true"})),
            self._addon(name, cluster, "kube-proxy", child),
        ]
        nodes = self._node_group(name, args, cluster, network.private_subnet_ids, child, network_addons)
        after_nodes = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[nodes]))
        coredns = self._addon(name, cluster, "coredns", after_nodes)
        ebs_role = identity.role(f"{name}-ebs-csi", "kube-system", "ebs-csi-controller-sa", managed_policy_arns=(EBS_CSI_POLICY_ARN,), parent=self)
        ebs_csi = self._addon(name, cluster, "aws-ebs-csi-driver", after_nodes, service_account_role_arn=ebs_role.arn)

        kubeconfig = exec_kubeconfig(
            cluster_name=args.cluster_name,
            endpoint=cluster.endpoint,
            ca_data=cluster.certificate_authority.apply(lambda ca: ca.data),
            command="aws",
            exec_args=["eks", "get-token", "--cluster-name", args.cluster_name, "--region", args.region, "--output", "json"],
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            cluster_identifier=f"eks:{args.region}:{args.cluster_name}",
            # Admins' access must exist before the first Kubernetes call. Pods also need nodes, CoreDNS
            # and the EBS CSI driver: those are `workloads_ready`, not a wait for every object.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*admin_access]),
        )
        k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # In prod a deleted claim leaves its EBS volume behind for recovery.
            reclaim_policy="Retain" if args.protect else "Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )

        self.cluster_arn = cluster.arn
        self.oidc_provider_arn = oidc.arn
        self.kms_key_arn = key.arn
        self.interface = ClusterInterface(
            provider=provider,
            name=cluster.name,
            cloud="eks",
            workloads_ready=(nodes, coredns, ebs_csi),
            nodes_ready=(nodes,),
            region=args.region,
            storage_class=STORAGE_CLASS,
            identity=identity,
            kubeconfig=kubeconfig,
            load_balancer_annotations={
                "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
            },
            has_metrics_server=False,
            node_autoscaler="cluster-autoscaler",
        )
        self.register_outputs({"clusterArn": cluster.arn, "oidcProviderArn": oidc.arn, "kmsKeyArn": key.arn})

    def _zones(self, args: EksClusterArgs, aws_provider: aws.Provider) -> tuple[str, ...]:
        """The first N available zones of the region; fewer than configured is a config error."""
        wanted = args.config.availability_zones
        found = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(parent=self, provider=aws_provider)).names
        if len(found) < wanted:
            raise ConfigError(pulumi.get_stack(), [
                f"tradesense:cluster.eks.availabilityZones must be at most {len(found)}: {args.region} has "
                f"{len(found)} available zones (got {wanted})"
            ], before_resources=False)
        return tuple(found[:wanted])

    def _role(self, name: str, service: str, policies: list[str], opts: pulumi.ResourceOptions) -> aws.iam.Role:
        role = aws.iam.Role(name, assume_role_policy=assume_role_policy(service), opts=opts)
        for index, arn in enumerate(policies):
            aws.iam.RolePolicyAttachment(f"{name}-{index}", role=role.name, policy_arn=arn, opts=opts)
        return role

    def _addon(self, name: str, cluster: aws.eks.Cluster, addon: str, opts: pulumi.ResourceOptions, **extra) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{name}-addon-{addon}",
            cluster_name=cluster.name,
            addon_name=addon,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            opts=opts,
            **extra,
        )

    def _node_group(self, name, args: EksClusterArgs, cluster, subnet_ids, opts, after) -> aws.eks.NodeGroup:
        cfg = args.config
        node_role = self._role(f"{name}-node-role", "ec2.amazonaws.com", NODE_POLICIES, opts)
        template = aws.ec2.LaunchTemplate(
            f"{name}-node-template",
            # IMDSv2 only, one hop: pods cannot borrow the node's instance role.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            block_device_mappings=[
                {"device_name": "/dev/xvda", "ebs": {"volume_size": cfg.disk_size_gb, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}}
            ],
            update_default_version=True,
            opts=opts,
        )
        return aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.name,
            node_group_name=f"{args.cluster_name}-standard-workers",
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=cfg.instance_types,
            scaling_config={"min_size": cfg.nodes.min, "max_size": cfg.nodes.max, "desired_size": cfg.nodes.initial},
            update_config={"max_unavailable_percentage": 33},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            tags={
                "k8s.io/cluster-autoscaler/enabled": "true",
                f"k8s.io/cluster-autoscaler/{args.cluster_name}": "owned",
            },
            opts=pulumi.ResourceOptions.merge(
                opts,
                # cluster-autoscaler owns the live size after creation.
                pulumi.ResourceOptions(protect=args.protect, ignore_changes=["scalingConfig.desiredSize"], depends_on=after),
            ),
        )
