"""VPC for EKS: public and private subnets over N AZs, NAT per AZ or one shared."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class EksVpcArgs:
    cluster_name: str
    cidr: str
    # Zone names, looked up (and checked against config) by the caller.
    zones: tuple[str, ...]
    nat_per_az: bool


def split_cidr(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Private subnets take the first sixteenths of the VPC, public ones start halfway."""
    blocks = list(ipaddress.ip_network(cidr).subnets(prefixlen_diff=4))
    return [str(b) for b in blocks[:zones]], [str(b) for b in blocks[8 : 8 + zones]]


class EksVpc(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: EksVpcArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("tradesense:cluster:EksVpc", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        private_cidrs, public_cidrs = split_cidr(args.cidr, len(args.zones))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{args.cluster_name}-vpc"},
            opts=child,
        )
        # The default security group of a new VPC allows all traffic between members: empty it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{args.cluster_name}-igw"}, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{args.cluster_name}-public"},
            opts=child,
        )

        self.public_subnet_ids, self.private_subnet_ids = [], []
        nat_ids: list[pulumi.Output[str]] = []
        for index, az in enumerate(args.zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=public_cidrs[index],
                availability_zone=az,
                # Load balancers get public IPs; nothing else lands here.
                map_public_ip_on_launch=False,
                tags={"Name": f"{args.cluster_name}-public-{index}", "kubernetes.io/role/elb": "1", **cluster_tag},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-public-{index}-rta", subnet_id=public.id, route_table_id=public_rt.id, opts=child)
            self.public_subnet_ids.append(public.id)

            if args.nat_per_az or index == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{index}-eip", domain="vpc", tags={"Name": f"{args.cluster_name}-nat-{index}"}, opts=child)
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=eip.id,
                    subnet_id=public.id,
                    tags={"Name": f"{args.cluster_name}-nat-{index}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=private_cidrs[index],
                availability_zone=az,
                tags={"Name": f"{args.cluster_name}-private-{index}", "kubernetes.io/role/internal-elb": "1", **cluster_tag},
                opts=child,
            )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-{index}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_ids[-1]}],
                tags={"Name": f"{args.cluster_name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{index}-rta", subnet_id=private.id, route_table_id=private_rt.id, opts=child)
            self.private_subnet_ids.append(private.id)

        self.vpc_id = vpc.id
        self.register_outputs({"vpcId": vpc.id, "privateSubnetIds": self.private_subnet_ids, "publicSubnetIds": self.public_subnet_ids})
