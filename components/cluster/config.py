"""`tradesense:cluster` config section: which cluster to build or adopt, and its shape."""

from __future__ import annotations

import ipaddress
from typing import Iterable, Literal, Optional

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from components.config_base import Environment, Problem, Section

Cloud = Literal["eks", "doks", "existing"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

PROD_MIN_NODES = 3


class NodeScaling(Section):
    min: int = Field(3, ge=1, description="fewest nodes (prod: at least 3)")
    max: int = Field(10, ge=1, description="most nodes the autoscaler may add")
    # Only the initial size: an autoscaler owns the live value afterwards.
    desired: Optional[int] = Field(None, ge=1, description="initial size only (an autoscaler owns the live value); default: min")

    def problems(self, env: Environment) -> Iterable[Problem]:
        if self.max < self.min:
            yield "max", f"must be >= min (got {self.max} < {self.min})"
        elif self.desired is not None and not self.min <= self.desired <= self.max:
            yield "desired", f"must be between min and max (got {self.desired}, range {self.min}-{self.max})"
        if env == "prod" and self.min < PROD_MIN_NODES:
            yield "min", f"must be >= {PROD_MIN_NODES} in prod (got {self.min})"

    @property
    def initial(self) -> int:
        return self.desired if self.desired is not None else self.min


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"must be a CIDR block like 10.0.0.0/16 ({exc})") from None


Cidr = Annotated[str, AfterValidator(_cidr)]


def _eks_vpc(value: str) -> str:
    # AWS caps a VPC at /16; each subnet takes a sixteenth, and a /24 is the least EKS nodes want.
    prefix = ipaddress.ip_network(value).prefixlen
    if not 16 <= prefix <= 20:
        raise ValueError(f"must be an IPv4 block from /16 to /20 so each of the 16 subnet slots is at least a /24 (got /{prefix})")
    return value


EksVpcCidr = Annotated[str, AfterValidator(_cidr), AfterValidator(_eks_vpc)]


class EksConfig(Section):
    version: str = Field("1.35", pattern=r"^1\.\d{2}$", description="Kubernetes minor version (cluster-autoscaler is pinned per minor); bump it before EKS standard support ends")
    vpc_cidr: EksVpcCidr = Field("10.0.0.0/16", description="VPC CIDR (/16 to /20); private subnets take the first slots, public ones start halfway")
    availability_zones: int = Field(3, ge=2, le=6, description="zones the VPC and nodes span (2 to 6)")
    # None means: one NAT gateway per AZ in prod, a single shared one elsewhere.
    nat_gateways: Optional[Literal["single", "per-az"]] = Field(None, description="`single` or `per-az`; default per-az in prod, single elsewhere")
    instance_types: list[str] = Field(default_factory=lambda: ["t3.large"], min_length=1, description="node instance types (the first is priced: policies/tradesense_rules/cost_prices.json)")
    disk_size_gb: int = Field(50, ge=20, le=16384, description="encrypted gp3 root volume per node (GB)")
    nodes: NodeScaling = NodeScaling()
    # The private endpoint is always on. The public one is open only to these CIDRs (CI runners,
    # VPN egress), or off entirely with privateOnly, for deployers that run inside the VPC.
    public_access_cidrs: list[Cidr] = Field(default_factory=list, description="networks `pulumi up` runs from (CI runners, VPN egress); required unless privateOnly; the private endpoint is always on")
    private_only: bool = Field(False, description="public API endpoint off: run pulumi from inside the VPC")
    # IAM principal ARNs granted cluster-admin through EKS access entries.
    admins: list[str] = Field(default_factory=list, description="IAM principal ARNs given cluster-admin access entries (at least one; no implicit creator admin)")
    log_retention_days: int = Field(90, description="control-plane log retention (a CloudWatch Logs value)")

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, values: list[str]) -> list[str]:
        for arn in values:
            if not arn.startswith("arn:aws:iam::"):
                raise ValueError(f"must list IAM principal ARNs like arn:aws:iam::123456789012:role/Admin (got {arn!r})")
        return values

    def problems(self, env: Environment) -> Iterable[Problem]:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield "logRetentionDays", f"must be a CloudWatch retention period such as 30, 90 or 365 (got {self.log_retention_days})"

    def nat_per_az(self, env: Environment) -> bool:
        return self.nat_gateways == "per-az" if self.nat_gateways else env == "prod"


class MaintenanceWindow(Section):
    day: Weekday = Field("saturday", description="weekday of the DOKS maintenance window")
    start_time: str = Field("02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="start of the window (HH:MM, UTC)")


class DoksConfig(Section):
    # Newest DigitalOcean release whose slug starts with this prefix.
    version_prefix: str = Field("1.35.", pattern=r"^1\.\d{2}\.$", description="newest DOKS release with this prefix (auto-upgrade moves patches; bump it for a minor upgrade)")
    size: str = Field("s-2vcpu-4gb", description="droplet size of the nodes (priced in cost_prices.json)")
    nodes: NodeScaling = NodeScaling()
    ha: bool = Field(False, description="highly available control plane")
    vpc_cidr: Cidr = Field("10.20.0.0/16", description="VPC range")
    # When set, the control-plane firewall admits only these addresses (CI runners, VPN egress).
    api_allowed_cidrs: list[Cidr] = Field(default_factory=list, description="when set, the control-plane firewall admits only these networks")
    maintenance: MaintenanceWindow = MaintenanceWindow()


class ExistingConfig(Section):
    # kubeconfig context to use; alternatively set the secret `tradesense:kubeconfig`.
    context: Optional[str] = Field(None, description="kubeconfig context (or set the secret tradesense:kubeconfig)")
    storage_class: str = Field("standard", description="storage class for volumes")
    # kind and minikube ship no metrics-server; the platform installs one when False.
    has_metrics_server: bool = Field(False, description="whether the cluster already runs metrics-server (else the platform installs it)")
    # Only for a local kind/minikube whose kubelets serve self-signed certificates: the platform's
    # metrics-server then skips kubelet certificate checks (--kubelet-insecure-tls).
    kubelet_insecure_tls: bool = Field(False, description="only for a local kind/minikube whose kubelets serve self-signed certificates: metrics-server skips their verification")


class ClusterConfig(Section):
    cloud: Cloud = Field(description="`eks`, `doks` or `existing`")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$", description="cluster name (lowercase, digits, dashes); also prefixes its buckets and keys")
    region: Optional[str] = Field(None, description="cloud region, e.g. `us-east-1` or `nyc1` (required for eks and doks)")
    eks: EksConfig = EksConfig()
    doks: DoksConfig = DoksConfig()
    existing: ExistingConfig = ExistingConfig()

    def problems(self, env: Environment) -> Iterable[Problem]:
        if self.cloud != "existing" and not self.region:
            example = "us-east-1" if self.cloud == "eks" else "nyc1"
            yield "region", f"is required when cluster.cloud is '{self.cloud}' (e.g. {example})"
        for other in ("eks", "doks", "existing"):
            if other != self.cloud and other in self.model_fields_set:
                yield other, f"is set but cluster.cloud is '{self.cloud}'; remove it or change cluster.cloud"
        if self.cloud == "eks" and not self.eks.public_access_cidrs and not self.eks.private_only:
            yield "eks.publicAccessCidrs", (
                "must list the CIDRs `pulumi up` runs from (CI runners, VPN egress), or set "
                "cluster.eks.privateOnly: true and run pulumi from inside the VPC (not possible on the "
                "first run: this program creates the VPC)"
            )
        if self.cloud == "eks" and self.eks.public_access_cidrs and self.eks.private_only:
            yield "eks.privateOnly", "cannot be true while cluster.eks.publicAccessCidrs lists CIDRs; clear one of them"
        if self.cloud == "eks" and not self.eks.admins:
            yield "eks.admins", (
                "must list at least one IAM principal ARN: the cluster grants no implicit admin, "
                "so whoever runs `pulumi up` needs an access entry"
            )
        if env == "prod" and self.cloud == "existing":
            yield "cloud", "must be 'eks' or 'doks' in prod (an existing cluster is for dev only)"
